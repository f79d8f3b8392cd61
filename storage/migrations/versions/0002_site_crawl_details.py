"""site crawl details

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 00:07:31.962515
"""
from alembic import op
import sqlalchemy as sa
import panelmap.storage.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    with op.batch_alter_table('site_crawl', schema=None) as batch_op:
        batch_op.add_column(sa.Column('details', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))

    


def downgrade() -> None:
    
    with op.batch_alter_table('site_crawl', schema=None) as batch_op:
        batch_op.drop_column('details')

    
