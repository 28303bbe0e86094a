# Least privilege, one role per job kind. Policies are built as JSON here (not aws_iam_policy_document)
# so that `terraform test` renders them with a mocked provider and asserts what they say.

locals {
  arn_s3             = "arn:${local.partition}:s3:::"
  results_bucket_arn = "${local.arn_s3}${var.results_bucket}"
  input_bucket_arn   = "${local.arn_s3}${var.input_bucket}"
  runs_root          = "s3://${var.results_bucket}/${var.run_prefix}"
  nightly_root       = "${local.runs_root}nightly"

  # What the nightly reads (var.nightly_manifest): an Inventory configuration's folder (listed for
  # its newest dated manifest.json, which names data files under the same folder), one dated
  # manifest.json (the same folder: two levels up), or a key list (that one object and nothing else).
  manifest_path = trimprefix(var.nightly_manifest, "s3://")
  manifest_kind = var.nightly_manifest == "" ? "none" : endswith(var.nightly_manifest, "/") ? "folder" : endswith(var.nightly_manifest, "manifest.json") ? "manifest" : "keys"
  inventory_folder = (
    local.manifest_kind == "folder" ? trimsuffix(local.manifest_path, "/") :
    local.manifest_kind == "manifest" ? dirname(dirname(local.manifest_path)) : ""
  )
  inventory_bucket = split("/", local.manifest_path)[0]
  inventory_statements = concat(
    [for object in(local.manifest_kind == "keys" ? [local.manifest_path] : []) :
      { Sid = "ReadKeyList", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["${local.arn_s3}${object}"] }
    ],
    [for folder in(contains(["folder", "manifest"], local.manifest_kind) ? [local.inventory_folder] : []) :
      { Sid = "ReadInventory", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["${local.arn_s3}${folder}/*"] }
    ],
    [for folder in(local.manifest_kind == "folder" ? [local.inventory_folder] : []) : {
      Sid       = "ListInventory", Effect = "Allow", Action = ["s3:ListBucket"], Resource = ["${local.arn_s3}${local.inventory_bucket}"]
      Condition = { StringLike = { "s3:prefix" = ["${trimprefix(folder, "${local.inventory_bucket}/")}/*"] } }
    }],
  )

  read_images = [
    { Sid = "ReadImages", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["${local.input_bucket_arn}/${var.input_prefix}*"] },
    {
      Sid       = "ListImages", Effect = "Allow", Action = ["s3:ListBucket"], Resource = [local.input_bucket_arn]
      Condition = { StringLike = { "s3:prefix" = ["${var.input_prefix}*"] } }
    },
  ]
  # A model given as s3://: its folder (the .onnx and the spec .json beside it).
  read_model = startswith(var.model, "s3://") ? [
    { Sid = "ReadModel", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["${local.arn_s3}${dirname(trimprefix(var.model, "s3://"))}/*"] },
  ] : []
  read_write_runs = [
    {
      Sid      = "ReadWriteRuns", Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
      Resource = ["${local.results_bucket_arn}/${var.run_prefix}*"]
    },
    {
      Sid       = "ListRuns", Effect = "Allow", Action = ["s3:ListBucket"], Resource = [local.results_bucket_arn]
      Condition = { StringLike = { "s3:prefix" = ["${var.run_prefix}*"] } }
    },
  ]
  # Array children write their run directory only: never the dataset, the current table or the
  # nightly's own state, which compaction and the nightly keep.
  table_objects = [
    "${local.results_bucket_arn}/${var.run_prefix}tags/*",
    "${local.results_bucket_arn}/${var.run_prefix}nightly/current/*",
    "${local.results_bucket_arn}/${var.run_prefix}nightly/current.json",
    "${local.results_bucket_arn}/${var.run_prefix}nightly/current.lock",
    "${local.results_bucket_arn}/${var.run_prefix}nightly/nightly.json",
    "${local.results_bucket_arn}/${var.run_prefix}nightly/nightly.lock",
  ]
  deny_tables = [{ Sid = "NoTableWrites", Effect = "Deny", Action = ["s3:PutObject", "s3:DeleteObject"], Resource = local.table_objects }]
  # SSE-KMS: the results bucket's key (read and write) and the inputs' keys (read).
  kms_results = var.kms_key_arn == "" ? [] : [
    { Sid = "ResultsKey", Effect = "Allow", Action = ["kms:Decrypt", "kms:GenerateDataKey"], Resource = [var.kms_key_arn] },
  ]
  kms_inputs = length(var.input_kms_key_arns) == 0 ? [] : [
    { Sid = "InputKeys", Effect = "Allow", Action = ["kms:Decrypt"], Resource = var.input_kms_key_arns },
  ]
  # Batch ARNs from the names (as AWS builds them), so that every policy is known at plan and can
  # be read in `terraform plan` before anything exists. A job definition without a revision is the
  # latest one; ":*" every revision (SubmitJob is authorised against the one it resolves to).
  batch_arn  = "arn:${local.partition}:batch:${var.region}:${local.account}"
  queue_arns = { for k, q in aws_batch_job_queue.queue : k => "${local.batch_arn}:job-queue/${q.name}" }
  job_definition_arns = { for k, d in aws_batch_job_definition.job : k => [
    "${local.batch_arn}:job-definition/${d.name}", "${local.batch_arn}:job-definition/${d.name}:*",
  ] }
  # SubmitJob needs both the queue and the job definition allowed.
  submit = { for sid, to in {
    # The nightly's delta to the tagging queue, its compact jobs to the CPU queue.
    SubmitJobs = { queues = ["tag", "planning"], definitions = ["tag", "compact"] }
    # The nightly itself, on the CPU queue: the schedule, or an operator running one now.
    SubmitNightly = { queues = ["planning"], definitions = ["nightly"] }
    } : sid => [{
      Sid      = sid, Effect = "Allow", Action = ["batch:SubmitJob"]
      Resource = concat([for q in to.queues : local.queue_arns[q]], flatten([for d in to.definitions : local.job_definition_arns[d]]))
  }] }
  submit_jobs = local.submit.SubmitJobs
  # The nightly follows a previous fleet run it submitted (DescribeJobs takes no resource-level
  # permission: "*" is what IAM allows for it) and resubmits what a failed array left unfinished.
  follow_jobs = [{ Sid = "FollowJobs", Effect = "Allow", Action = ["batch:DescribeJobs"], Resource = ["*"] }]

  # The jobs that update the current table move its Glue table to each new version: that table only.
  move_current_table = [{
    Sid = "MoveCurrentTable", Effect = "Allow", Action = ["glue:GetTable", "glue:UpdateTable"]
    Resource = [
      "arn:${local.partition}:glue:${var.region}:${local.account}:catalog",
      "arn:${local.partition}:glue:${var.region}:${local.account}:database/${aws_glue_catalog_database.imgtag.name}",
      "arn:${local.partition}:glue:${var.region}:${local.account}:table/${aws_glue_catalog_database.imgtag.name}/current",
    ]
  }]

  # The stream's consumer (stream.tf): reads the images it tags (read_images: ListBucket under the
  # prefix too, so an object deleted before it is tagged is a 404, not a 403 that looks like a
  # misconfiguration), the model, current.json; reads, writes, lists and deletes only <nightly_root>/stream/;
  # receives, deletes and extends the queue's messages and sends the ones it cannot parse to the
  # dead-letter queue (the Batch forms of these calls are authorised by the same actions).
  stream_objects = "${local.results_bucket_arn}/${var.run_prefix}nightly/stream/*"
  stream_statements = concat(
    local.read_images,
    [
      { Sid = "ReadCurrent", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["${local.results_bucket_arn}/${var.run_prefix}nightly/current.json"] },
      { Sid = "ReadWriteStream", Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], Resource = [local.stream_objects] },
      {
        Sid       = "ListStream", Effect = "Allow", Action = ["s3:ListBucket"], Resource = [local.results_bucket_arn]
        Condition = { StringLike = { "s3:prefix" = ["${var.run_prefix}nightly/stream/*"] } }
      },
      { Sid = "ConsumeQueue", Effect = "Allow", Action = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"], Resource = [local.stream_queue_arn] },
      { Sid = "DeadLetters", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [local.stream_dlq_arn] },
    ],
    local.read_model, local.kms_results, local.kms_inputs,
  )
  # Operators watch the queues and redrive the dead-letter queue to the stream's queue
  # (StartMessageMoveTask reads and deletes on the dead-letter queue, sends to the destination).
  stream_operator_statements = var.stream ? [
    { Sid = "WatchStream", Effect = "Allow", Action = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListDeadLetterSourceQueues"], Resource = [local.stream_queue_arn, local.stream_dlq_arn] },
    {
      Sid    = "RedriveStream", Effect = "Allow", Resource = [local.stream_dlq_arn]
      Action = ["sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks", "sqs:CancelMessageMoveTask", "sqs:ReceiveMessage", "sqs:DeleteMessage"]
    },
    { Sid = "RedriveToStream", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [local.stream_queue_arn] },
  ] : []

  job_statements = {
    tag     = concat(local.read_images, local.read_model, local.read_write_runs, local.deny_tables, local.kms_results, local.kms_inputs)
    nightly = concat(local.read_images, local.read_model, local.inventory_statements, local.read_write_runs, local.kms_results, local.kms_inputs, local.submit_jobs, local.follow_jobs, local.move_current_table)
    compact = concat(local.read_write_runs, local.kms_results, local.move_current_table)
  }

  # Trust: the service, for this account only (confused deputy). EC2 does not send aws:SourceAccount
  # when an instance takes its profile's role, so the instance role trusts ec2.amazonaws.com alone.
  trust = { for service in ["ecs-tasks", "ec2", "scheduler"] : service => service == "ec2" ?
    jsonencode({ Version = "2012-10-17", Statement = [local.assume[service]] }) :
    jsonencode({ Version = "2012-10-17", Statement = [merge(local.assume[service], {
      Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
    })] })
  }
  assume = { for service in ["ecs-tasks", "ec2", "scheduler"] : service => { Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "${service}.amazonaws.com" } } }
}

# The roles imgtag itself runs as, inside the container (the standard AWS credential chain finds them).
resource "aws_iam_role" "job" {
  # Static keys: the policies name the job definitions, which name these roles.
  for_each           = toset(["tag", "nightly", "compact"])
  name               = "${var.name}-${each.key}-job"
  assume_role_policy = local.trust["ecs-tasks"]
}

resource "aws_iam_role_policy" "job" {
  for_each = local.job_statements
  name     = "${var.name}-${each.key}"
  role     = aws_iam_role.job[each.key].id
  policy   = jsonencode({ Version = "2012-10-17", Statement = each.value })
}

# The stream's consumer (stream.tf), its own role.
resource "aws_iam_role" "stream" {
  count              = length(local.stream)
  name               = "${var.name}-listen-job"
  assume_role_policy = local.trust["ecs-tasks"]
}

resource "aws_iam_role_policy" "stream" {
  count  = length(local.stream)
  name   = "${var.name}-listen"
  role   = aws_iam_role.stream[0].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.stream_statements })
}

# Pulls the image from ECR and writes the logs (AWS managed policy for exactly that).
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = local.trust["ecs-tasks"]
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# The instances join the Batch-managed ECS cluster.
resource "aws_iam_role" "instance" {
  name               = "${var.name}-instance"
  assume_role_policy = local.trust["ec2"]
}

resource "aws_iam_role_policy_attachment" "instance" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name}-instance"
  role = aws_iam_role.instance.name
}

# EventBridge Scheduler submits the nightly job, and nothing else; an invocation it gives up on
# goes to the dead-letter queue (schedule.tf).
resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = local.trust["scheduler"]
}

resource "aws_iam_role_policy" "scheduler" {
  name = "${var.name}-submit"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.submit.SubmitNightly, [for q in aws_sqs_queue.schedule_dead_letters :
      { Sid = "DeadLetters", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [q.arn] }
    ])
  })
}

# Attach to the people (or CI) who plan, submit and watch runs from their own machine: read the
# images and the Inventory (plan), write run directories (plan), submit the array and compact jobs
# and the nightly, follow them (DescribeJobs and ListJobs take no resource-level permission), stop
# a runaway one, read the schedule, and query the logs; with the stream, watch its queues and redrive
# its dead-letter queue.
resource "aws_iam_policy" "operator" {
  name = "${var.name}-operator"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.read_images, local.inventory_statements, local.read_write_runs, local.kms_results, local.kms_inputs, local.submit_jobs, local.submit.SubmitNightly, [
      { Sid = "WatchJobs", Effect = "Allow", Action = ["batch:DescribeJobs", "batch:ListJobs"], Resource = ["*"] },
      # A job's ARN names no queue: TerminateJob and CancelJob can be held to this account and region's jobs, not to a queue.
      { Sid = "StopJobs", Effect = "Allow", Action = ["batch:TerminateJob", "batch:CancelJob"], Resource = ["${local.batch_arn}:job/*"] },
      { Sid = "QueryLogs", Effect = "Allow", Action = ["logs:StartQuery", "logs:FilterLogEvents", "logs:GetLogEvents"], Resource = ["arn:${local.partition}:logs:${var.region}:${local.account}:log-group:${aws_cloudwatch_log_group.imgtag.name}:*"] },
      { Sid = "QueryResults", Effect = "Allow", Action = ["logs:GetQueryResults", "logs:StopQuery"], Resource = ["*"] },
      ], [for arn in local.schedule_arns :
      { Sid = "ReadSchedule", Effect = "Allow", Action = ["scheduler:GetSchedule"], Resource = [arn] }
    ], local.stream_operator_statements)
  })
}
