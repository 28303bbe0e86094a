# Least privilege: jobs read only the input prefix and write only under the run prefix.

# Who may assume each role: one trust policy per AWS service.
data "aws_iam_policy_document" "assume" {
  for_each = toset(["ecs-tasks.amazonaws.com", "ec2.amazonaws.com", "scheduler.amazonaws.com"])
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.key]
    }
  }
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ReadImages"
    actions   = ["s3:GetObject"]
    resources = ["${local.input_bucket_arn}/${var.input_prefix}*"]
  }
  statement {
    sid       = "ListImages"
    actions   = ["s3:ListBucket"]
    resources = [local.input_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.input_prefix}*"]
    }
  }
  statement {
    sid       = "ReadWriteRuns"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${local.results_bucket_arn}/${var.run_prefix}*"]
  }
  statement {
    sid       = "ListRuns"
    actions   = ["s3:ListBucket"]
    resources = [local.results_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.run_prefix}*"]
    }
  }
  # The nightly reads the Inventory: manifest.json in a dated folder, data files in data/ beside it,
  # and lists the configuration's folder for the newest dated report.
  dynamic "statement" {
    for_each = var.nightly_manifest == "" ? [] : [1]
    content {
      sid       = "ReadInventory"
      actions   = ["s3:GetObject"]
      resources = ["arn:aws:s3:::${local.inventory_folder}/*"]
    }
  }
  dynamic "statement" {
    for_each = var.nightly_manifest == "" ? [] : [1]
    content {
      sid       = "ListInventory"
      actions   = ["s3:ListBucket"]
      resources = ["arn:aws:s3:::${split("/", local.inventory_folder)[0]}"]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${join("/", slice(split("/", local.inventory_folder), 1, length(split("/", local.inventory_folder))))}/*"]
      }
    }
  }
  # A model given as s3://: its folder (the .onnx and the spec .json beside it).
  dynamic "statement" {
    for_each = startswith(var.model, "s3://") ? [1] : []
    content {
      sid       = "ReadModel"
      actions   = ["s3:GetObject"]
      resources = ["arn:aws:s3:::${dirname(trimprefix(var.model, "s3://"))}/*"]
    }
  }
  # SSE-KMS: the results bucket's key (read and write) and the inputs' keys (read).
  dynamic "statement" {
    for_each = var.kms_key_arn == "" && length(var.input_kms_key_arns) == 0 ? [] : [1]
    content {
      sid       = "UseKmsKeys"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = compact(concat([var.kms_key_arn], var.input_kms_key_arns))
    }
  }
  # The nightly submits its delta to the GPU queue, and the compact job to the CPU queue.
  statement {
    sid     = "SubmitJobs"
    actions = ["batch:SubmitJob"]
    resources = [
      aws_batch_job_queue.imgtag.arn,
      aws_batch_job_queue.planning.arn,
      "${aws_batch_job_definition.imgtag.arn_prefix}:*",
      "${aws_batch_job_definition.nightly.arn_prefix}:*",
    ]
  }
}

# The role imgtag itself runs as, inside the container (the standard AWS credential chain finds it).
resource "aws_iam_role" "job" {
  name               = "${var.name}-job"
  assume_role_policy = data.aws_iam_policy_document.assume["ecs-tasks.amazonaws.com"].json
}

resource "aws_iam_role_policy" "job" {
  name   = "${var.name}-s3"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}

# Pulls the image from ECR and writes the logs (AWS managed policy for exactly that).
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.assume["ecs-tasks.amazonaws.com"].json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# The GPU instances join the Batch-managed ECS cluster.
resource "aws_iam_role" "instance" {
  name               = "${var.name}-instance"
  assume_role_policy = data.aws_iam_policy_document.assume["ec2.amazonaws.com"].json
}

resource "aws_iam_role_policy_attachment" "instance" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name}-instance"
  role = aws_iam_role.instance.name
}

# EventBridge Scheduler submits the nightly job, and nothing else.
data "aws_iam_policy_document" "scheduler" {
  statement {
    actions = ["batch:SubmitJob"]
    resources = [
      aws_batch_job_queue.planning.arn,
      "${aws_batch_job_definition.nightly.arn_prefix}:*",
    ]
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.assume["scheduler.amazonaws.com"].json
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "${var.name}-submit"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

locals {
  # The Inventory configuration's folder (bucket/prefix/source-bucket/config-id), from either form of nightly_manifest.
  inventory_folder = endswith(var.nightly_manifest, "/") ? trimsuffix(trimprefix(var.nightly_manifest, "s3://"), "/") : dirname(dirname(trimprefix(var.nightly_manifest, "s3://")))
}
