"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 23:58:41.968252
"""
from alembic import op
import sqlalchemy as sa
import panelmap.storage.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('sha1', sa.String(length=40), nullable=False),
    sa.Column('serial', sa.String(length=128), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('issuer', sa.Text(), nullable=False),
    sa.Column('sans', sa.JSON(), nullable=False),
    sa.Column('not_before', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('not_after', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate')),
    sa.UniqueConstraint('sha256', name=op.f('uq_certificate_sha256'))
    )
    op.create_table('evidence_pack',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=200), nullable=False),
    sa.Column('operator', sa.String(length=200), nullable=False),
    sa.Column('sites', sa.JSON(), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('signature', sa.JSON(), nullable=True),
    sa.Column('created_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_pack'))
    )
    with op.batch_alter_table('evidence_pack', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_pack_case_id'), ['case_id'], unique=False)

    op.create_table('schedule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('seeds', sa.JSON(), nullable=False),
    sa.Column('every_seconds', sa.Integer(), nullable=True),
    sa.Column('cron', sa.String(length=128), nullable=True),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('created_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_run_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_run_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.Column('lease_expires_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule')),
    sa.UniqueConstraint('name', name=op.f('uq_schedule_name'))
    )
    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('software', sa.String(length=32), nullable=True),
    sa.Column('software_evidence', sa.JSON(), nullable=True),
    sa.Column('tenant_code', sa.String(length=64), nullable=True),
    sa.Column('first_seen', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('domain', name=op.f('uq_site_domain'))
    )
    op.create_table('custody_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pack_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('previous_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['pack_id'], ['evidence_pack.id'], name=op.f('fk_custody_event_pack_id_evidence_pack'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_event')),
    sa.UniqueConstraint('pack_id', 'sequence', name=op.f('uq_custody_event_pack_id_sequence'))
    )
    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=True),
    sa.Column('scheduled_for', panelmap.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('seeds', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('created_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('log_path', sa.String(length=1024), nullable=True),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedule.id'], name=op.f('fk_job_schedule_id_schedule'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
    sa.UniqueConstraint('schedule_id', 'scheduled_for', name=op.f('uq_job_schedule_id_scheduled_for'))
    )
    op.create_table('link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('source_site_id', sa.Integer(), nullable=False),
    sa.Column('target_site_id', sa.Integer(), nullable=True),
    sa.Column('target_cluster', sa.String(length=64), nullable=True),
    sa.Column('value', sa.String(length=512), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('markup', panelmap.storage.types.ExactDecimal(precision=30, scale=12), nullable=True),
    sa.Column('matched_services', sa.Integer(), nullable=True),
    sa.Column('pivot_count', sa.Integer(), nullable=True),
    sa.Column('weak', sa.Boolean(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('computed_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['source_site_id'], ['site.id'], name=op.f('fk_link_source_site_id_site'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_site_id'], ['site.id'], name=op.f('fk_link_target_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link'))
    )
    with op.batch_alter_table('link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_source_site_id'), ['source_site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_target_site_id'), ['target_site_id'], unique=False)

    op.create_table('service',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('service_key', sa.String(length=64), nullable=False),
    sa.Column('first_seen', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_service_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service')),
    sa.UniqueConstraint('site_id', 'service_key', name=op.f('uq_service_site_id_service_key'))
    )
    op.create_table('crawl_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('job_name', sa.String(length=200), nullable=True),
    sa.Column('started_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('config_hash', sa.String(length=64), nullable=False),
    sa.Column('proxy', sa.String(length=512), nullable=True),
    sa.Column('resolver', sa.String(length=255), nullable=True),
    sa.Column('rate_table', sa.JSON(), nullable=False),
    sa.Column('software_version', sa.String(length=64), nullable=False),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], name=op.f('fk_crawl_run_job_id_job'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crawl_run'))
    )
    with op.batch_alter_table('crawl_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crawl_run_job_id'), ['job_id'], unique=False)

    op.create_table('capture',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('final_url', sa.Text(), nullable=True),
    sa.Column('method', sa.String(length=8), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('content_type', sa.String(length=255), nullable=True),
    sa.Column('server_ip', sa.String(length=45), nullable=True),
    sa.Column('fetched_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('warc_file', sa.String(length=1024), nullable=False),
    sa.Column('warc_offset', sa.BigInteger(), nullable=False),
    sa.Column('warc_length', sa.BigInteger(), nullable=True),
    sa.Column('warc_record_id', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['capture.id'], name=op.f('fk_capture_parent_id_capture'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_run.id'], name=op.f('fk_capture_run_id_crawl_run'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_capture_site_id_site'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capture')),
    sa.UniqueConstraint('warc_record_id', name=op.f('uq_capture_warc_record_id'))
    )
    with op.batch_alter_table('capture', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capture_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_capture_site_id'), ['site_id'], unique=False)

    op.create_table('site_crawl',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('services', sa.Integer(), nullable=False),
    sa.Column('started_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_run.id'], name=op.f('fk_site_crawl_run_id_crawl_run'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_site_crawl_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_crawl')),
    sa.UniqueConstraint('run_id', 'site_id', name=op.f('uq_site_crawl_run_id_site_id'))
    )
    with op.batch_alter_table('site_crawl', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_crawl_site_id'), ['site_id'], unique=False)

    op.create_table('certificate_observation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('capture_id', sa.Integer(), nullable=True),
    sa.Column('host', sa.String(length=253), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('valid', sa.Boolean(), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('observed_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['capture_id'], ['capture.id'], name=op.f('fk_certificate_observation_capture_id_capture'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificate.id'], name=op.f('fk_certificate_observation_certificate_id_certificate'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_run.id'], name=op.f('fk_certificate_observation_run_id_crawl_run'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_certificate_observation_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_observation')),
    sa.UniqueConstraint('run_id', 'site_id', 'host', 'certificate_id', name=op.f('uq_certificate_observation_run_id_site_id_host_certificate_id'))
    )
    with op.batch_alter_table('certificate_observation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_observation_certificate_id'), ['certificate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_observation_site_id'), ['site_id'], unique=False)

    op.create_table('dns_observation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('capture_id', sa.Integer(), nullable=True),
    sa.Column('qname', sa.String(length=253), nullable=False),
    sa.Column('rtype', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('ttl', sa.Integer(), nullable=True),
    sa.Column('resolver', sa.String(length=255), nullable=True),
    sa.Column('observed_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['capture_id'], ['capture.id'], name=op.f('fk_dns_observation_capture_id_capture'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_run.id'], name=op.f('fk_dns_observation_run_id_crawl_run'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_dns_observation_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dns_observation')),
    sa.UniqueConstraint('run_id', 'qname', 'rtype', name=op.f('uq_dns_observation_run_id_qname_rtype'))
    )
    with op.batch_alter_table('dns_observation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dns_observation_site_id'), ['site_id'], unique=False)

    op.create_table('fingerprint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('capture_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=512), nullable=False),
    sa.Column('observed_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['capture_id'], ['capture.id'], name=op.f('fk_fingerprint_capture_id_capture'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_run.id'], name=op.f('fk_fingerprint_run_id_crawl_run'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_fingerprint_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fingerprint')),
    sa.UniqueConstraint('run_id', 'site_id', 'kind', 'value', name=op.f('uq_fingerprint_run_id_site_id_kind_value'))
    )
    with op.batch_alter_table('fingerprint', schema=None) as batch_op:
        batch_op.create_index('ix_fingerprint_kind_value', ['kind', 'value'], unique=False)
        batch_op.create_index(batch_op.f('ix_fingerprint_site_id'), ['site_id'], unique=False)

    op.create_table('network',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cidr', sa.String(length=49), nullable=False),
    sa.Column('asn', sa.BigInteger(), nullable=True),
    sa.Column('asn_cidr', sa.String(length=49), nullable=True),
    sa.Column('asn_description', sa.Text(), nullable=True),
    sa.Column('asn_country', sa.String(length=2), nullable=True),
    sa.Column('rir', sa.String(length=16), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('handle', sa.String(length=255), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('abuse_emails', sa.JSON(), nullable=False),
    sa.Column('rdap_capture_id', sa.Integer(), nullable=True),
    sa.Column('fetched_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rdap_capture_id'], ['capture.id'], name=op.f('fk_network_rdap_capture_id_capture'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network')),
    sa.UniqueConstraint('cidr', name=op.f('uq_network_cidr'))
    )
    with op.batch_alter_table('network', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_asn'), ['asn'], unique=False)

    op.create_table('payment_endpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('capture_id', sa.Integer(), nullable=True),
    sa.Column('processor', sa.String(length=32), nullable=False),
    sa.Column('identifier', sa.String(length=255), nullable=False),
    sa.Column('host', sa.String(length=253), nullable=False),
    sa.Column('form_action', sa.Text(), nullable=True),
    sa.Column('crypto_network', sa.String(length=32), nullable=True),
    sa.Column('observed_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['capture_id'], ['capture.id'], name=op.f('fk_payment_endpoint_capture_id_capture'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_run.id'], name=op.f('fk_payment_endpoint_run_id_crawl_run'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_payment_endpoint_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_endpoint')),
    sa.UniqueConstraint('run_id', 'site_id', 'processor', 'identifier', 'host', name=op.f('uq_payment_endpoint_run_id_site_id_processor_identifier_host'))
    )
    with op.batch_alter_table('payment_endpoint', schema=None) as batch_op:
        batch_op.create_index('ix_payment_endpoint_processor_identifier', ['processor', 'identifier'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_endpoint_site_id'), ['site_id'], unique=False)

    op.create_table('price_observation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('capture_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('observed_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('rate', panelmap.storage.types.ExactDecimal(precision=30, scale=12), nullable=False),
    sa.Column('rate_text', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('rate_usd', panelmap.storage.types.ExactDecimal(precision=30, scale=12), nullable=True),
    sa.Column('min_quantity', sa.BigInteger(), nullable=True),
    sa.Column('max_quantity', sa.BigInteger(), nullable=True),
    sa.Column('max_unlimited', sa.Boolean(), nullable=False),
    sa.Column('average_time', sa.String(length=128), nullable=True),
    sa.Column('refill', sa.Boolean(), nullable=True),
    sa.Column('cancel', sa.Boolean(), nullable=True),
    sa.Column('dripfeed', sa.Boolean(), nullable=True),
    sa.Column('platform', sa.String(length=32), nullable=True),
    sa.Column('metric', sa.String(length=32), nullable=True),
    sa.Column('geo', sa.JSON(), nullable=False),
    sa.Column('device', sa.String(length=16), nullable=True),
    sa.Column('premium', sa.Boolean(), nullable=True),
    sa.Column('guarantee_days', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['capture_id'], ['capture.id'], name=op.f('fk_price_observation_capture_id_capture'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_run.id'], name=op.f('fk_price_observation_run_id_crawl_run'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_price_observation_service_id_service'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_observation')),
    sa.UniqueConstraint('run_id', 'service_id', 'source', name=op.f('uq_price_observation_run_id_service_id_source'))
    )
    with op.batch_alter_table('price_observation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_observation_platform'), ['platform'], unique=False)
        batch_op.create_index(batch_op.f('ix_price_observation_run_id'), ['run_id'], unique=False)
        batch_op.create_index('ix_price_observation_service_observed', ['service_id', 'observed_at'], unique=False)

    op.create_table('ip_address',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=45), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('network_id', sa.Integer(), nullable=True),
    sa.Column('first_seen', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], name=op.f('fk_ip_address_network_id_network'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ip_address')),
    sa.UniqueConstraint('address', name=op.f('uq_ip_address_address'))
    )
    with op.batch_alter_table('ip_address', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ip_address_network_id'), ['network_id'], unique=False)

    op.create_table('address_observation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('ip_id', sa.Integer(), nullable=False),
    sa.Column('hostname', sa.String(length=253), nullable=False),
    sa.Column('dns_observation_id', sa.Integer(), nullable=True),
    sa.Column('observed_at', panelmap.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dns_observation_id'], ['dns_observation.id'], name=op.f('fk_address_observation_dns_observation_id_dns_observation'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ip_id'], ['ip_address.id'], name=op.f('fk_address_observation_ip_id_ip_address'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['crawl_run.id'], name=op.f('fk_address_observation_run_id_crawl_run'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_address_observation_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_address_observation')),
    sa.UniqueConstraint('run_id', 'site_id', 'hostname', 'ip_id', name=op.f('uq_address_observation_run_id_site_id_hostname_ip_id'))
    )
    with op.batch_alter_table('address_observation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_address_observation_ip_id'), ['ip_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_address_observation_site_id'), ['site_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('address_observation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_address_observation_site_id'))
        batch_op.drop_index(batch_op.f('ix_address_observation_ip_id'))

    op.drop_table('address_observation')
    with op.batch_alter_table('ip_address', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ip_address_network_id'))

    op.drop_table('ip_address')
    with op.batch_alter_table('price_observation', schema=None) as batch_op:
        batch_op.drop_index('ix_price_observation_service_observed')
        batch_op.drop_index(batch_op.f('ix_price_observation_run_id'))
        batch_op.drop_index(batch_op.f('ix_price_observation_platform'))

    op.drop_table('price_observation')
    with op.batch_alter_table('payment_endpoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_endpoint_site_id'))
        batch_op.drop_index('ix_payment_endpoint_processor_identifier')

    op.drop_table('payment_endpoint')
    with op.batch_alter_table('network', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_asn'))

    op.drop_table('network')
    with op.batch_alter_table('fingerprint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fingerprint_site_id'))
        batch_op.drop_index('ix_fingerprint_kind_value')

    op.drop_table('fingerprint')
    with op.batch_alter_table('dns_observation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dns_observation_site_id'))

    op.drop_table('dns_observation')
    with op.batch_alter_table('certificate_observation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_observation_site_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_observation_certificate_id'))

    op.drop_table('certificate_observation')
    with op.batch_alter_table('site_crawl', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_site_crawl_site_id'))

    op.drop_table('site_crawl')
    with op.batch_alter_table('capture', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_capture_site_id'))
        batch_op.drop_index(batch_op.f('ix_capture_run_id'))

    op.drop_table('capture')
    with op.batch_alter_table('crawl_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawl_run_job_id'))

    op.drop_table('crawl_run')
    op.drop_table('service')
    with op.batch_alter_table('link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_target_site_id'))
        batch_op.drop_index(batch_op.f('ix_link_source_site_id'))
        batch_op.drop_index(batch_op.f('ix_link_kind'))

    op.drop_table('link')
    op.drop_table('job')
    op.drop_table('custody_event')
    op.drop_table('site')
    op.drop_table('schedule')
    with op.batch_alter_table('evidence_pack', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_pack_case_id'))

    op.drop_table('evidence_pack')
    op.drop_table('certificate')
    
