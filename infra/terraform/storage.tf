resource "aws_s3_bucket" "results" {
  count  = var.create_results_bucket ? 1 : 0
  bucket = var.results_bucket
}

resource "aws_s3_bucket_public_access_block" "results" {
  count                   = var.create_results_bucket ? 1 : 0
  bucket                  = aws_s3_bucket.results[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "results" {
  count  = var.create_results_bucket ? 1 : 0
  bucket = aws_s3_bucket.results[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == "" ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn == "" ? null : var.kms_key_arn
    }
    # One KMS call per object per bucket key instead of per request: 300 M GETs would otherwise be 300 M KMS calls.
    bucket_key_enabled = var.kms_key_arn != ""
  }
}

# Multipart uploads left by killed workers are aborted after two days.
resource "aws_s3_bucket_lifecycle_configuration" "results" {
  count  = var.create_results_bucket ? 1 : 0
  bucket = aws_s3_bucket.results[0].id
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {
      prefix = var.run_prefix
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 2
    }
  }
  # The nightly reads only current.json and the current table: its old run directories (shards,
  # markers, reports) can go. Their rows stay in the dataset, which this rule does not touch.
  rule {
    id     = "expire-nightly-runs"
    status = var.nightly_runs_expire_days > 0 ? "Enabled" : "Disabled"
    filter {
      prefix = "${var.run_prefix}nightly/runs/"
    }
    expiration {
      days = max(var.nightly_runs_expire_days, 1)
    }
  }
}

resource "aws_ecr_repository" "imgtag" {
  name = var.name
  # A tag once pushed never moves: a retried child runs the image its first attempt ran.
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
}

resource "aws_ecr_lifecycle_policy" "imgtag" {
  repository = aws_ecr_repository.imgtag.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last 20 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 20 }
      action       = { type = "expire" }
    }]
  })
}

resource "aws_cloudwatch_log_group" "imgtag" {
  name              = "/aws/batch/${var.name}"
  retention_in_days = var.log_retention_days
}

