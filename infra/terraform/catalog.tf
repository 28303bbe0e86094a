# The tags table for Athena: every run written to the dataset (imgtag plan/nightly --dataset) in one
# table. Partition projection on run_date, so a new run is queryable the moment it is compacted,
# with no crawler and no partition to register.

locals {
  dataset        = "${local.runs_root}tags/"
  athena_results = "${local.runs_root}athena-results/"
  tag_struct     = "array<struct<label:string,score:float>>"
  model_columns = concat(
    flatten([for m in var.table_models : [{ name = "model_${m}", type = "string" }, { name = "tags_${m}", type = local.tag_struct }]]),
    flatten([for m in var.table_embedding_models : [{ name = "model_${m}", type = "string" }, { name = "embedding_${m}", type = "array<float>" }]]),
  )
  # The columns imgtag writes, in its order: object, per model (by name), error, provenance.
  table_columns = concat(
    [
      { name = "key", type = "string" },
      { name = "bucket", type = "string" },
      { name = "etag", type = "string" },
      { name = "size", type = "bigint" },
      { name = "width", type = "int" },
      { name = "height", type = "int" },
    ],
    local.model_columns,
    [
      { name = "error", type = "struct<stage:string,message:string>" },
      { name = "run_id", type = "string" },
      { name = "tagged_at", type = "timestamp" },
    ],
  )
}

resource "aws_glue_catalog_database" "imgtag" {
  name = replace(var.name, "-", "_")
}

# Two tables with the columns imgtag writes: `tags`, every run of the dataset, partitioned by run_date
# (projected: a run is queryable once compacted, no crawler); `current`, the table the nightly keeps
# (one row per live object with its newest tags, replaced whole each night).
locals {
  tables = {
    tags = {
      location   = local.dataset
      partitions = [{ name = "run_date", type = "string" }]
      parameters = {
        "projection.enabled"                = "true"
        "projection.run_date.type"          = "date"
        "projection.run_date.format"        = "yyyy-MM-dd"
        "projection.run_date.range"         = "${var.table_first_date},NOW"
        "projection.run_date.interval"      = "1"
        "projection.run_date.interval.unit" = "DAYS"
        "storage.location.template"         = "${local.dataset}run_date=$${run_date}/"
      }
    }
    current = { location = "${local.nightly_root}/current/", partitions = [], parameters = {} }
  }
}

resource "aws_glue_catalog_table" "table" {
  for_each = local.tables
  # The nightly moves the current table to each new version (current/v=<id>/) with UpdateTable: an
  # apply must not move it back. (The dataset's location follows run_prefix, set once.)
  lifecycle {
    ignore_changes = [storage_descriptor[0].location]
  }
  name          = each.key
  database_name = aws_glue_catalog_database.imgtag.name
  table_type    = "EXTERNAL_TABLE"
  parameters    = merge({ EXTERNAL = "TRUE", classification = "parquet" }, each.value.parameters)
  dynamic "partition_keys" {
    for_each = each.value.partitions
    content {
      name = partition_keys.value.name
      type = partition_keys.value.type
    }
  }
  storage_descriptor {
    location      = each.value.location
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }
    dynamic "columns" {
      for_each = local.table_columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

# Queries run in their own workgroup, results under the run prefix, scanned bytes capped.
resource "aws_athena_workgroup" "imgtag" {
  name = var.name
  # Deleted with its saved queries and query history on destroy (AWS refuses otherwise); the query
  # results are objects under the run prefix, which this does not touch.
  force_destroy = true
  configuration {
    enforce_workgroup_configuration = true
    bytes_scanned_cutoff_per_query  = var.athena_bytes_scanned_cutoff
    result_configuration {
      output_location = local.athena_results
    }
  }
}

# Attach to the people and services that query the tags: read the dataset, the current table and
# the catalog, run queries in the workgroup, write their results. Nothing else.
locals {
  query_statements = concat(
    [
      {
        Sid      = "RunQueries", Effect = "Allow"
        Action   = ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution", "athena:GetWorkGroup"]
        Resource = [aws_athena_workgroup.imgtag.arn]
      },
      {
        Sid    = "ReadCatalog", Effect = "Allow"
        Action = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"]
        Resource = [
          "arn:${local.partition}:glue:${var.region}:${local.account}:catalog",
          "arn:${local.partition}:glue:${var.region}:${local.account}:database/${aws_glue_catalog_database.imgtag.name}",
          "arn:${local.partition}:glue:${var.region}:${local.account}:table/${aws_glue_catalog_database.imgtag.name}/*",
        ]
      },
      {
        Sid      = "ReadTables", Effect = "Allow", Action = ["s3:GetObject"]
        Resource = ["${local.results_bucket_arn}/${var.run_prefix}tags/*", "${local.results_bucket_arn}/${var.run_prefix}nightly/current/*"]
      },
      {
        Sid      = "WriteQueryResults", Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
        Resource = ["${local.results_bucket_arn}/${var.run_prefix}athena-results/*"]
      },
      {
        Sid       = "ListTables", Effect = "Allow", Action = ["s3:ListBucket"], Resource = [local.results_bucket_arn]
        Condition = { StringLike = { "s3:prefix" = ["${var.run_prefix}tags/*", "${var.run_prefix}nightly/current/*", "${var.run_prefix}athena-results/*"] } }
      },
      # A GetBucketLocation request carries no s3:prefix: a statement conditioned on one never allows it.
      { Sid = "BucketLocation", Effect = "Allow", Action = ["s3:GetBucketLocation"], Resource = [local.results_bucket_arn] },
    ],
    # SSE-KMS results bucket: reading the tables and writing query results need the key.
    var.kms_key_arn == "" ? [] : [{ Sid = "ResultsKey", Effect = "Allow", Action = ["kms:Decrypt", "kms:GenerateDataKey"], Resource = [var.kms_key_arn] }],
  )
}

resource "aws_iam_policy" "query" {
  name   = "${var.name}-query"
  policy = jsonencode({ Version = "2012-10-17", Statement = local.query_statements })
}
