"""price text and assumed currency

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 00:48:30.589131
"""
from alembic import op
import sqlalchemy as sa
import panelmap.storage.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table('price_observation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('currency_assumed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.alter_column('rate_text',
               existing_type=sa.VARCHAR(length=64),
               type_=sa.Text(),
               existing_nullable=False)




def downgrade() -> None:

    with op.batch_alter_table('price_observation', schema=None) as batch_op:
        batch_op.alter_column('rate_text',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=64),
               existing_nullable=False)
        batch_op.drop_column('currency_assumed')


