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
}

resource "aws_glue_catalog_database" "imgtag" {
  name = replace(var.name, "-", "_")
}

resource "aws_glue_catalog_table" "tags" {
  name          = "tags"
  database_name = aws_glue_catalog_database.imgtag.name
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    EXTERNAL                            = "TRUE"
    classification                      = "parquet"
    "projection.enabled"                = "true"
    "projection.run_date.type"          = "date"
    "projection.run_date.format"        = "yyyy-MM-dd"
    "projection.run_date.range"         = "${var.table_first_date},NOW"
    "projection.run_date.interval"      = "1"
    "projection.run_date.interval.unit" = "DAYS"
    "storage.location.template"         = "${local.dataset}run_date=$${run_date}/"
  }
  partition_keys {
    name = "run_date"
    type = "string"
  }
  storage_descriptor {
    location      = local.dataset
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }
    # The columns imgtag writes, in its order: object, per model (by name), error, provenance.
    dynamic "columns" {
      for_each = concat(
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
  configuration {
    enforce_workgroup_configuration = true
    bytes_scanned_cutoff_per_query  = var.athena_bytes_scanned_cutoff
    result_configuration {
      output_location = local.athena_results
    }
  }
}

# Attach to the people and services that query the tags: read the dataset and the catalog, run
# queries in the workgroup, write their results. Nothing else.
data "aws_iam_policy_document" "query" {
  statement {
    sid       = "RunQueries"
    actions   = ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution", "athena:GetWorkGroup"]
    resources = [aws_athena_workgroup.imgtag.arn]
  }
  statement {
    sid     = "ReadCatalog"
    actions = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"]
    resources = [
      "arn:aws:glue:${var.region}:${data.aws_caller_identity.current.account_id}:catalog",
      "arn:aws:glue:${var.region}:${data.aws_caller_identity.current.account_id}:database/${aws_glue_catalog_database.imgtag.name}",
      "arn:aws:glue:${var.region}:${data.aws_caller_identity.current.account_id}:table/${aws_glue_catalog_database.imgtag.name}/*",
    ]
  }
  statement {
    sid       = "ReadDataset"
    actions   = ["s3:GetObject"]
    resources = ["${local.results_bucket_arn}/${var.run_prefix}tags/*"]
  }
  statement {
    sid       = "WriteQueryResults"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.results_bucket_arn}/${var.run_prefix}athena-results/*"]
  }
  statement {
    sid       = "ListDataset"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.results_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.run_prefix}tags/*", "${var.run_prefix}athena-results/*"]
    }
  }
}

data "aws_caller_identity" "current" {}

resource "aws_iam_policy" "query" {
  name   = "${var.name}-query"
  policy = data.aws_iam_policy_document.query.json
}
