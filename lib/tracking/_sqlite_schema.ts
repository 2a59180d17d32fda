/**
 * SQLite DDL for a brand-new MLflow tracking database whose schema matches
 * the alembic head revision of MLflow 3.7.0, so that MLflow 3.7.x opens it
 * without running `mlflow db upgrade`.
 *
 * How the schema was derived (facts only; the DDL below is written by hand):
 *
 * The starting point is a real MLflow 2.17 SQLite database at revision
 * `f5a4f2784254` (fixtures/mlflow-2.17/sqlite/schema.sql). Every later
 * migration in `mlflow/store/db_migrations/versions/` was then applied in
 * order of its `down_revision` chain:
 *
 * - `0584bdc529eb` datasets: FK to experiments renamed
 *   `fk_datasets_experiment_id_experiments`, now `ON DELETE CASCADE`.
 * - `400f98739977` new tables `logged_models`, `logged_model_metrics`
 *   (+ index on model_id), `logged_model_params`, `logged_model_tags`.
 * - `6953534de441` inputs: new column `step BIGINT NOT NULL DEFAULT '0'`.
 * - `bda7b8c39065` model_version_tags: `value` widened to TEXT.
 * - `cbc13b556ace` trace_info: new columns `client_request_id`,
 *   `request_preview`, `response_preview`.
 * - `770bee3ae1dd` new table `assessments` (+ 4 indexes).
 * - `a1b2c3d4e5f6` new table `spans` with the stored generated column
 *   `duration_ns` (+ 4 indexes; needs SQLite >= 3.31).
 * - `de4033877273` new table `entity_associations` (+ 2 indexes).
 * - `1a0cddfcaa16` new tables `webhooks`, `webhook_events` (+ 5 indexes).
 * - `534353b11cbc` new tables `scorers` (+ unique index on
 *   experiment_id/scorer_name), `scorer_versions` (+ index).
 * - `71994744cf8e` new tables `evaluation_datasets`,
 *   `evaluation_dataset_tags`, `evaluation_dataset_records` (+ indexes and
 *   the `unique_dataset_input` unique constraint).
 * - `3da73c924c2f` evaluation_dataset_records: new JSON column `outputs`.
 * - `bf29a5ff90ea` new table `jobs` (+ index) — head of MLflow 3.5.x–3.7.x.
 *
 * The next migration on MLflow's master, `1bd49d398cd23` (secrets/gateway
 * tables), first shipped in 3.8.0: upgrading a 3.7.0 database to 3.8.x runs
 * it (mlflow/mlflow issue #19943), so 3.7.0's head is `bf29a5ff90ea`.
 *
 * Sources read (mlflow/mlflow, from a December 2025 master snapshot):
 * `mlflow/store/db_migrations/versions/*.py` (the files named by the
 * revisions above, plus `f5a4f2784254`, `4465047574b1`, `5b0e9adcef9c`),
 * `mlflow/store/db_migrations/env.py`, `mlflow/store/db/utils.py`
 * (`_all_tables_exist`, `_initialize_tables`, `_verify_schema`: a fresh
 * database is `create_all` of the initial models followed by
 * `alembic upgrade heads`; at startup MLflow compares
 * `alembic_version.version_num` with its head revision) and
 * `tests/db/schemas/sqlite.sql` (the reflected schema MLflow's tests keep,
 * used to cross-check column names, types and nullability).
 *
 * Column order follows what alembic leaves behind (columns added by later
 * migrations come last). The caller inserts the `alembic_version` row and the
 * default experiment (id 0, "Default") itself.
 *
 * @module
 */

/** MLflow release whose alembic head this schema matches. */
export const MLFLOW_SCHEMA_RELEASE = "3.7.0";

/** Alembic head revision of that release. */
export const MLFLOW_SCHEMA_REVISION = "bf29a5ff90ea";

/** DDL statements, in order, that create every table/index of that revision (no alembic_version insert). */
export const MLFLOW_SCHEMA_DDL: readonly string[] = Object.freeze([
  `CREATE TABLE alembic_version (
  version_num VARCHAR(32) NOT NULL,
  CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
)`,

  // ---- experiments / runs (initial models + 1.x/2.x migrations) ----
  `CREATE TABLE experiments (
  experiment_id INTEGER NOT NULL,
  name VARCHAR(256) NOT NULL,
  artifact_location VARCHAR(256),
  lifecycle_stage VARCHAR(32),
  creation_time BIGINT,
  last_update_time BIGINT,
  CONSTRAINT experiment_pk PRIMARY KEY (experiment_id),
  CONSTRAINT experiments_lifecycle_stage
    CHECK (lifecycle_stage IN ('active', 'deleted')),
  UNIQUE (name)
)`,
  `CREATE TABLE experiment_tags (
  "key" VARCHAR(250) NOT NULL,
  value VARCHAR(5000),
  experiment_id INTEGER NOT NULL,
  CONSTRAINT experiment_tag_pk PRIMARY KEY ("key", experiment_id),
  FOREIGN KEY (experiment_id) REFERENCES experiments (experiment_id)
)`,
  `CREATE TABLE runs (
  run_uuid VARCHAR(32) NOT NULL,
  name VARCHAR(250),
  source_type VARCHAR(20),
  source_name VARCHAR(500),
  entry_point_name VARCHAR(50),
  user_id VARCHAR(256),
  status VARCHAR(9),
  start_time BIGINT,
  end_time BIGINT,
  source_version VARCHAR(50),
  lifecycle_stage VARCHAR(20),
  artifact_uri VARCHAR(200),
  experiment_id INTEGER,
  deleted_time BIGINT,
  CONSTRAINT run_pk PRIMARY KEY (run_uuid),
  CONSTRAINT runs_lifecycle_stage
    CHECK (lifecycle_stage IN ('active', 'deleted')),
  CONSTRAINT source_type
    CHECK (source_type IN ('NOTEBOOK', 'JOB', 'LOCAL', 'UNKNOWN', 'PROJECT')),
  FOREIGN KEY (experiment_id) REFERENCES experiments (experiment_id),
  CHECK (status IN ('SCHEDULED', 'FAILED', 'FINISHED', 'RUNNING', 'KILLED'))
)`,
  `CREATE TABLE metrics (
  "key" VARCHAR(250) NOT NULL,
  value FLOAT NOT NULL,
  timestamp BIGINT NOT NULL,
  run_uuid VARCHAR(32) NOT NULL,
  step BIGINT DEFAULT '0' NOT NULL,
  is_nan BOOLEAN DEFAULT '0' NOT NULL,
  CONSTRAINT metric_pk
    PRIMARY KEY ("key", timestamp, step, run_uuid, value, is_nan),
  FOREIGN KEY (run_uuid) REFERENCES runs (run_uuid),
  CHECK (is_nan IN (0, 1))
)`,
  `CREATE TABLE latest_metrics (
  "key" VARCHAR(250) NOT NULL,
  value FLOAT NOT NULL,
  timestamp BIGINT,
  step BIGINT NOT NULL,
  is_nan BOOLEAN NOT NULL,
  run_uuid VARCHAR(32) NOT NULL,
  CONSTRAINT latest_metric_pk PRIMARY KEY ("key", run_uuid),
  FOREIGN KEY (run_uuid) REFERENCES runs (run_uuid),
  CHECK (is_nan IN (0, 1))
)`,
  `CREATE TABLE params (
  "key" VARCHAR(250) NOT NULL,
  value VARCHAR(8000) NOT NULL,
  run_uuid VARCHAR(32) NOT NULL,
  CONSTRAINT param_pk PRIMARY KEY ("key", run_uuid),
  FOREIGN KEY (run_uuid) REFERENCES runs (run_uuid)
)`,
  `CREATE TABLE tags (
  "key" VARCHAR(250) NOT NULL,
  value VARCHAR(8000),
  run_uuid VARCHAR(32) NOT NULL,
  CONSTRAINT tag_pk PRIMARY KEY ("key", run_uuid),
  FOREIGN KEY (run_uuid) REFERENCES runs (run_uuid)
)`,

  // ---- model registry ----
  `CREATE TABLE registered_models (
  name VARCHAR(256) NOT NULL,
  creation_time BIGINT,
  last_updated_time BIGINT,
  description VARCHAR(5000),
  CONSTRAINT registered_model_pk PRIMARY KEY (name),
  UNIQUE (name)
)`,
  `CREATE TABLE model_versions (
  name VARCHAR(256) NOT NULL,
  version INTEGER NOT NULL,
  creation_time BIGINT,
  last_updated_time BIGINT,
  description VARCHAR(5000),
  user_id VARCHAR(256),
  current_stage VARCHAR(20),
  source VARCHAR(500),
  run_id VARCHAR(32),
  status VARCHAR(20),
  status_message VARCHAR(500),
  run_link VARCHAR(500),
  storage_location VARCHAR(500),
  CONSTRAINT model_version_pk PRIMARY KEY (name, version),
  FOREIGN KEY (name) REFERENCES registered_models (name) ON UPDATE CASCADE
)`,
  `CREATE TABLE registered_model_tags (
  "key" VARCHAR(250) NOT NULL,
  value VARCHAR(5000),
  name VARCHAR(256) NOT NULL,
  CONSTRAINT registered_model_tag_pk PRIMARY KEY ("key", name),
  FOREIGN KEY (name) REFERENCES registered_models (name) ON UPDATE CASCADE
)`,
  // bda7b8c39065: value VARCHAR(5000) -> TEXT
  `CREATE TABLE model_version_tags (
  "key" VARCHAR(250) NOT NULL,
  value TEXT,
  name VARCHAR(256) NOT NULL,
  version INTEGER NOT NULL,
  CONSTRAINT model_version_tag_pk PRIMARY KEY ("key", name, version),
  FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
    ON UPDATE CASCADE
)`,
  `CREATE TABLE registered_model_aliases (
  alias VARCHAR(256) NOT NULL,
  version INTEGER NOT NULL,
  name VARCHAR(256) NOT NULL,
  CONSTRAINT registered_model_alias_pk PRIMARY KEY (name, alias),
  CONSTRAINT registered_model_alias_name_fkey FOREIGN KEY (name)
    REFERENCES registered_models (name) ON DELETE CASCADE ON UPDATE CASCADE
)`,

  // ---- datasets / inputs ----
  // 0584bdc529eb: named FK with ON DELETE CASCADE
  `CREATE TABLE datasets (
  dataset_uuid VARCHAR(36) NOT NULL,
  experiment_id INTEGER NOT NULL,
  name VARCHAR(500) NOT NULL,
  digest VARCHAR(36) NOT NULL,
  dataset_source_type VARCHAR(36) NOT NULL,
  dataset_source TEXT NOT NULL,
  dataset_schema TEXT,
  dataset_profile TEXT,
  CONSTRAINT dataset_pk PRIMARY KEY (experiment_id, name, digest),
  CONSTRAINT fk_datasets_experiment_id_experiments FOREIGN KEY (experiment_id)
    REFERENCES experiments (experiment_id) ON DELETE CASCADE
)`,
  // 6953534de441: + step
  `CREATE TABLE inputs (
  input_uuid VARCHAR(36) NOT NULL,
  source_type VARCHAR(36) NOT NULL,
  source_id VARCHAR(36) NOT NULL,
  destination_type VARCHAR(36) NOT NULL,
  destination_id VARCHAR(36) NOT NULL,
  step BIGINT DEFAULT '0' NOT NULL,
  CONSTRAINT inputs_pk
    PRIMARY KEY (source_type, source_id, destination_type, destination_id)
)`,
  `CREATE TABLE input_tags (
  input_uuid VARCHAR(36) NOT NULL,
  name VARCHAR(255) NOT NULL,
  value VARCHAR(500) NOT NULL,
  CONSTRAINT input_tags_pk PRIMARY KEY (input_uuid, name)
)`,

  // ---- traces ----
  // cbc13b556ace: + client_request_id, request_preview, response_preview
  `CREATE TABLE trace_info (
  request_id VARCHAR(50) NOT NULL,
  experiment_id INTEGER NOT NULL,
  timestamp_ms BIGINT NOT NULL,
  execution_time_ms BIGINT,
  status VARCHAR(50) NOT NULL,
  client_request_id VARCHAR(50),
  request_preview VARCHAR(1000),
  response_preview VARCHAR(1000),
  CONSTRAINT trace_info_pk PRIMARY KEY (request_id),
  CONSTRAINT fk_trace_info_experiment_id FOREIGN KEY (experiment_id)
    REFERENCES experiments (experiment_id)
)`,
  `CREATE TABLE trace_tags (
  "key" VARCHAR(250) NOT NULL,
  value VARCHAR(8000),
  request_id VARCHAR(50) NOT NULL,
  CONSTRAINT trace_tag_pk PRIMARY KEY ("key", request_id),
  CONSTRAINT fk_trace_tags_request_id FOREIGN KEY (request_id)
    REFERENCES trace_info (request_id) ON DELETE CASCADE
)`,
  `CREATE TABLE trace_request_metadata (
  "key" VARCHAR(250) NOT NULL,
  value VARCHAR(8000),
  request_id VARCHAR(50) NOT NULL,
  CONSTRAINT trace_request_metadata_pk PRIMARY KEY ("key", request_id),
  CONSTRAINT fk_trace_request_metadata_request_id FOREIGN KEY (request_id)
    REFERENCES trace_info (request_id) ON DELETE CASCADE
)`,
  // 770bee3ae1dd
  `CREATE TABLE assessments (
  assessment_id VARCHAR(50) NOT NULL,
  trace_id VARCHAR(50) NOT NULL,
  name VARCHAR(250) NOT NULL,
  assessment_type VARCHAR(20) NOT NULL,
  value TEXT NOT NULL,
  error TEXT,
  created_timestamp BIGINT NOT NULL,
  last_updated_timestamp BIGINT NOT NULL,
  source_type VARCHAR(50) NOT NULL,
  source_id VARCHAR(250),
  run_id VARCHAR(32),
  span_id VARCHAR(50),
  rationale TEXT,
  overrides VARCHAR(50),
  valid BOOLEAN NOT NULL,
  assessment_metadata TEXT,
  CONSTRAINT assessments_pk PRIMARY KEY (assessment_id),
  CONSTRAINT fk_assessments_trace_id FOREIGN KEY (trace_id)
    REFERENCES trace_info (request_id) ON DELETE CASCADE
)`,
  // a1b2c3d4e5f6
  `CREATE TABLE spans (
  trace_id VARCHAR(50) NOT NULL,
  experiment_id INTEGER NOT NULL,
  span_id VARCHAR(50) NOT NULL,
  parent_span_id VARCHAR(50),
  name TEXT,
  type VARCHAR(500),
  status VARCHAR(50) NOT NULL,
  start_time_unix_nano BIGINT NOT NULL,
  end_time_unix_nano BIGINT,
  duration_ns BIGINT
    GENERATED ALWAYS AS (end_time_unix_nano - start_time_unix_nano) STORED,
  content TEXT NOT NULL,
  CONSTRAINT spans_pk PRIMARY KEY (trace_id, span_id),
  CONSTRAINT fk_spans_trace_id FOREIGN KEY (trace_id)
    REFERENCES trace_info (request_id) ON DELETE CASCADE,
  CONSTRAINT fk_spans_experiment_id FOREIGN KEY (experiment_id)
    REFERENCES experiments (experiment_id)
)`,

  // ---- logged models (400f98739977) ----
  `CREATE TABLE logged_models (
  model_id VARCHAR(36) NOT NULL,
  experiment_id INTEGER NOT NULL,
  name VARCHAR(500) NOT NULL,
  artifact_location VARCHAR(1000) NOT NULL,
  creation_timestamp_ms BIGINT NOT NULL,
  last_updated_timestamp_ms BIGINT NOT NULL,
  status INTEGER NOT NULL,
  lifecycle_stage VARCHAR(32),
  model_type VARCHAR(500),
  source_run_id VARCHAR(32),
  status_message VARCHAR(1000),
  CONSTRAINT logged_models_pk PRIMARY KEY (model_id),
  CONSTRAINT logged_models_lifecycle_stage_check
    CHECK (lifecycle_stage IN ('active', 'deleted')),
  CONSTRAINT fk_logged_models_experiment_id FOREIGN KEY (experiment_id)
    REFERENCES experiments (experiment_id) ON DELETE CASCADE
)`,
  `CREATE TABLE logged_model_metrics (
  model_id VARCHAR(36) NOT NULL,
  metric_name VARCHAR(500) NOT NULL,
  metric_timestamp_ms BIGINT NOT NULL,
  metric_step BIGINT NOT NULL,
  metric_value FLOAT,
  experiment_id INTEGER NOT NULL,
  run_id VARCHAR(32) NOT NULL,
  dataset_uuid VARCHAR(36),
  dataset_name VARCHAR(500),
  dataset_digest VARCHAR(36),
  CONSTRAINT logged_model_metrics_pk PRIMARY KEY
    (model_id, metric_name, metric_timestamp_ms, metric_step, run_id),
  CONSTRAINT fk_logged_model_metrics_experiment_id FOREIGN KEY (experiment_id)
    REFERENCES experiments (experiment_id),
  CONSTRAINT fk_logged_model_metrics_model_id FOREIGN KEY (model_id)
    REFERENCES logged_models (model_id) ON DELETE CASCADE,
  CONSTRAINT fk_logged_model_metrics_run_id FOREIGN KEY (run_id)
    REFERENCES runs (run_uuid) ON DELETE CASCADE
)`,
  `CREATE TABLE logged_model_params (
  model_id VARCHAR(36) NOT NULL,
  experiment_id INTEGER NOT NULL,
  param_key VARCHAR(255) NOT NULL,
  param_value TEXT NOT NULL,
  CONSTRAINT logged_model_params_pk PRIMARY KEY (model_id, param_key),
  CONSTRAINT fk_logged_model_params_experiment_id FOREIGN KEY (experiment_id)
    REFERENCES experiments (experiment_id),
  CONSTRAINT fk_logged_model_params_model_id FOREIGN KEY (model_id)
    REFERENCES logged_models (model_id) ON DELETE CASCADE
)`,
  `CREATE TABLE logged_model_tags (
  model_id VARCHAR(36) NOT NULL,
  experiment_id INTEGER NOT NULL,
  tag_key VARCHAR(255) NOT NULL,
  tag_value TEXT NOT NULL,
  CONSTRAINT logged_model_tags_pk PRIMARY KEY (model_id, tag_key),
  CONSTRAINT fk_logged_model_tags_experiment_id FOREIGN KEY (experiment_id)
    REFERENCES experiments (experiment_id),
  CONSTRAINT fk_logged_model_tags_model_id FOREIGN KEY (model_id)
    REFERENCES logged_models (model_id) ON DELETE CASCADE
)`,

  // ---- entity associations (de4033877273) ----
  `CREATE TABLE entity_associations (
  association_id VARCHAR(36) NOT NULL,
  source_type VARCHAR(36) NOT NULL,
  source_id VARCHAR(36) NOT NULL,
  destination_type VARCHAR(36) NOT NULL,
  destination_id VARCHAR(36) NOT NULL,
  created_time BIGINT,
  CONSTRAINT entity_associations_pk
    PRIMARY KEY (source_type, source_id, destination_type, destination_id)
)`,

  // ---- webhooks (1a0cddfcaa16) ----
  `CREATE TABLE webhooks (
  webhook_id VARCHAR(256) NOT NULL,
  name VARCHAR(256) NOT NULL,
  description VARCHAR(1000),
  url VARCHAR(500) NOT NULL,
  status VARCHAR(20) DEFAULT 'ACTIVE' NOT NULL,
  secret VARCHAR(1000),
  creation_timestamp BIGINT,
  last_updated_timestamp BIGINT,
  deleted_timestamp BIGINT,
  CONSTRAINT webhook_pk PRIMARY KEY (webhook_id)
)`,
  `CREATE TABLE webhook_events (
  webhook_id VARCHAR(256) NOT NULL,
  entity VARCHAR(50) NOT NULL,
  "action" VARCHAR(50) NOT NULL,
  CONSTRAINT webhook_event_pk PRIMARY KEY (webhook_id, entity, "action"),
  FOREIGN KEY (webhook_id) REFERENCES webhooks (webhook_id) ON DELETE CASCADE
)`,

  // ---- scorers (534353b11cbc) ----
  `CREATE TABLE scorers (
  experiment_id INTEGER NOT NULL,
  scorer_name VARCHAR(256) NOT NULL,
  scorer_id VARCHAR(36) NOT NULL,
  CONSTRAINT scorer_pk PRIMARY KEY (scorer_id),
  CONSTRAINT fk_scorers_experiment_id FOREIGN KEY (experiment_id)
    REFERENCES experiments (experiment_id) ON DELETE CASCADE
)`,
  `CREATE TABLE scorer_versions (
  scorer_id VARCHAR(36) NOT NULL,
  scorer_version INTEGER NOT NULL,
  serialized_scorer TEXT NOT NULL,
  creation_time BIGINT,
  CONSTRAINT scorer_version_pk PRIMARY KEY (scorer_id, scorer_version),
  CONSTRAINT fk_scorer_versions_scorer_id FOREIGN KEY (scorer_id)
    REFERENCES scorers (scorer_id) ON DELETE CASCADE
)`,

  // ---- evaluation datasets (71994744cf8e, 3da73c924c2f) ----
  `CREATE TABLE evaluation_datasets (
  dataset_id VARCHAR(36) NOT NULL,
  name VARCHAR(255) NOT NULL,
  "schema" TEXT,
  profile TEXT,
  digest VARCHAR(64),
  created_time BIGINT,
  last_update_time BIGINT,
  created_by VARCHAR(255),
  last_updated_by VARCHAR(255),
  CONSTRAINT evaluation_datasets_pk PRIMARY KEY (dataset_id)
)`,
  `CREATE TABLE evaluation_dataset_tags (
  dataset_id VARCHAR(36) NOT NULL,
  "key" VARCHAR(255) NOT NULL,
  value VARCHAR(5000),
  CONSTRAINT evaluation_dataset_tags_pk PRIMARY KEY (dataset_id, "key"),
  CONSTRAINT fk_evaluation_dataset_tags_dataset_id FOREIGN KEY (dataset_id)
    REFERENCES evaluation_datasets (dataset_id) ON DELETE CASCADE
)`,
  `CREATE TABLE evaluation_dataset_records (
  dataset_record_id VARCHAR(36) NOT NULL,
  dataset_id VARCHAR(36) NOT NULL,
  inputs JSON NOT NULL,
  expectations JSON,
  tags JSON,
  source JSON,
  source_id VARCHAR(36),
  source_type VARCHAR(255),
  created_time BIGINT,
  last_update_time BIGINT,
  created_by VARCHAR(255),
  last_updated_by VARCHAR(255),
  input_hash VARCHAR(64) NOT NULL,
  outputs JSON,
  CONSTRAINT evaluation_dataset_records_pk PRIMARY KEY (dataset_record_id),
  CONSTRAINT fk_evaluation_dataset_records_dataset_id FOREIGN KEY (dataset_id)
    REFERENCES evaluation_datasets (dataset_id) ON DELETE CASCADE,
  CONSTRAINT unique_dataset_input UNIQUE (dataset_id, input_hash)
)`,

  // ---- jobs (bf29a5ff90ea) ----
  `CREATE TABLE jobs (
  id VARCHAR(36) NOT NULL,
  creation_time BIGINT NOT NULL,
  function_fullname VARCHAR(500) NOT NULL,
  params TEXT NOT NULL,
  timeout FLOAT,
  status INTEGER NOT NULL,
  result TEXT,
  retry_count INTEGER NOT NULL,
  last_update_time BIGINT NOT NULL,
  CONSTRAINT jobs_pk PRIMARY KEY (id)
)`,

  // ---- indexes ----
  "CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid)",
  "CREATE INDEX index_latest_metrics_run_uuid ON latest_metrics (run_uuid)",
  "CREATE INDEX index_params_run_uuid ON params (run_uuid)",
  "CREATE INDEX index_tags_run_uuid ON tags (run_uuid)",
  `CREATE INDEX index_datasets_experiment_id_dataset_source_type
  ON datasets (experiment_id, dataset_source_type)`,
  "CREATE INDEX index_datasets_dataset_uuid ON datasets (dataset_uuid)",
  "CREATE INDEX index_inputs_input_uuid ON inputs (input_uuid)",
  `CREATE INDEX index_inputs_destination_type_destination_id_source_type
  ON inputs (destination_type, destination_id, source_type)`,
  `CREATE INDEX index_trace_info_experiment_id_timestamp_ms
  ON trace_info (experiment_id, timestamp_ms)`,
  "CREATE INDEX index_trace_tags_request_id ON trace_tags (request_id)",
  `CREATE INDEX index_trace_request_metadata_request_id
  ON trace_request_metadata (request_id)`,
  `CREATE INDEX index_logged_model_metrics_model_id
  ON logged_model_metrics (model_id)`,
  `CREATE INDEX index_assessments_trace_id_created_timestamp
  ON assessments (trace_id, created_timestamp)`,
  `CREATE INDEX index_assessments_run_id_created_timestamp
  ON assessments (run_id, created_timestamp)`,
  `CREATE INDEX index_assessments_last_updated_timestamp
  ON assessments (last_updated_timestamp)`,
  `CREATE INDEX index_assessments_assessment_type
  ON assessments (assessment_type)`,
  "CREATE INDEX index_spans_experiment_id ON spans (experiment_id)",
  `CREATE INDEX index_spans_experiment_id_status_type
  ON spans (experiment_id, status, type)`,
  `CREATE INDEX index_spans_experiment_id_type_status
  ON spans (experiment_id, type, status)`,
  `CREATE INDEX index_spans_experiment_id_duration
  ON spans (experiment_id, duration_ns)`,
  `CREATE INDEX index_entity_associations_association_id
  ON entity_associations (association_id)`,
  `CREATE INDEX index_entity_associations_reverse_lookup
  ON entity_associations (destination_type, destination_id, source_type,
    source_id)`,
  "CREATE INDEX idx_webhooks_status ON webhooks (status)",
  "CREATE INDEX idx_webhooks_name ON webhooks (name)",
  "CREATE INDEX idx_webhook_events_entity ON webhook_events (entity)",
  'CREATE INDEX idx_webhook_events_action ON webhook_events ("action")',
  `CREATE INDEX idx_webhook_events_entity_action
  ON webhook_events (entity, "action")`,
  `CREATE UNIQUE INDEX index_scorers_experiment_id_scorer_name
  ON scorers (experiment_id, scorer_name)`,
  `CREATE INDEX index_scorer_versions_scorer_id
  ON scorer_versions (scorer_id)`,
  `CREATE INDEX index_evaluation_datasets_name
  ON evaluation_datasets (name)`,
  `CREATE INDEX index_evaluation_datasets_created_time
  ON evaluation_datasets (created_time)`,
  `CREATE INDEX index_evaluation_dataset_tags_dataset_id
  ON evaluation_dataset_tags (dataset_id)`,
  `CREATE INDEX index_evaluation_dataset_records_dataset_id
  ON evaluation_dataset_records (dataset_id)`,
  `CREATE INDEX index_jobs_function_status_creation_time
  ON jobs (function_fullname, status, creation_time)`,
]);
