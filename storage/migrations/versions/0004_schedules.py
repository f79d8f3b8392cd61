"""site comparisons and changes: what each crawl of a site changed since the previous one

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 00:58:06.066183
"""
from alembic import op
import sqlalchemy as sa
import panelmap.storage.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('site_comparison',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('previous_run_id', sa.Integer(), nullable=True),
    sa.Column('upstreams', sa.JSON(), nullable=False),
    sa.Column('compared_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['previous_run_id'], ['crawl_run.id'], name=op.f('fk_site_comparison_previous_run_id_crawl_run'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_run.id'], name=op.f('fk_site_comparison_run_id_crawl_run'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_site_comparison_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_comparison')),
    sa.UniqueConstraint('run_id', 'site_id', name=op.f('uq_site_comparison_run_id_site_id'))
    )
    with op.batch_alter_table('site_comparison', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_comparison_site_id'), ['site_id'], unique=False)

    op.create_table('site_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comparison_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('observed_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('change', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=512), nullable=False),
    sa.Column('old', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('new', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['comparison_id'], ['site_comparison.id'], name=op.f('fk_site_change_comparison_id_site_comparison'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_run.id'], name=op.f('fk_site_change_run_id_crawl_run'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_site_change_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_change')),
    sa.UniqueConstraint('comparison_id', 'kind', 'change', 'subject', name=op.f('uq_site_change_comparison_id_kind_change_subject'))
    )
    with op.batch_alter_table('site_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_change_observed_at'), ['observed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_site_change_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_site_change_site_id'), ['site_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('site_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_site_change_site_id'))
        batch_op.drop_index(batch_op.f('ix_site_change_run_id'))
        batch_op.drop_index(batch_op.f('ix_site_change_observed_at'))

    op.drop_table('site_change')
    with op.batch_alter_table('site_comparison', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_site_comparison_site_id'))

    op.drop_table('site_comparison')
