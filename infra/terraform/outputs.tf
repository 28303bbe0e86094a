output "ecr_repository_url" {
  description = "Push the imgtag image here (docker build --target given by image_target)."
  value       = aws_ecr_repository.imgtag.repository_url
}

output "image_target" {
  description = "The Dockerfile target to build for this fleet: cpu or gpu (docker build --platform linux/amd64: every instance type here is x86_64)."
  value       = local.fleet.image_target
  # Terraform writes an output in a -target apply only when it follows a targeted resource: this
  # one then is in state after README step 2 (the repository alone), for step 3's docker build.
  depends_on = [aws_ecr_repository.imgtag]
}

output "tagging_fleet" {
  description = "What the array children run on, and with which --device."
  value       = "${var.tagging_fleet} (${join(", ", local.fleet.instance_types)}), --device ${local.fleet.device}"
}

output "job_queue" {
  description = "Give to imgtag submit --job-queue."
  value       = local.queue_arns["tag"]
}

output "job_definition" {
  description = "Give to imgtag submit --job-definition (no revision: the latest active one)."
  value       = aws_batch_job_definition.job["tag"].arn_prefix
}

output "planning_queue" {
  description = "Give to imgtag submit/nightly --compact-job-queue: CPU jobs (compaction, the nightly's planning)."
  value       = local.queue_arns["planning"]
}

output "compact_job_definition" {
  description = "Give to imgtag submit/nightly --compact-job-definition: the compact job (CPU, its own role)."
  value       = aws_batch_job_definition.job["compact"].arn_prefix
}

output "nightly_job_definition" {
  description = "The nightly's job definition (the schedule submits it; nightly_submit_job runs one now)."
  value       = aws_batch_job_definition.job["nightly"].arn_prefix
}

output "nightly_submit_job" {
  description = "Run the nightly now, exactly as the schedule does: aws batch submit-job --cli-input-json \"$(terraform output -raw nightly_submit_job)\" (empty without nightly_manifest)."
  value = length(local.schedule) == 0 ? "" : jsonencode({
    jobName            = local.nightly_job.name
    jobQueue           = local.nightly_job.queue
    jobDefinition      = local.nightly_job.definition
    containerOverrides = { command = local.nightly_job.command }
  })
}

output "nightly_schedule" {
  description = "The nightly's schedule: aws scheduler get-schedule --group-name <group> --name <name> (null without nightly_manifest)."
  value       = length(local.schedule) == 0 ? null : { group = aws_scheduler_schedule_group.imgtag[0].name, name = local.schedule[0] }
}

output "schedule_dead_letters" {
  description = "SQS queue where a nightly submission the schedule gave up on lands, with its error (null without nightly_manifest)."
  value       = length(local.schedule) == 0 ? null : aws_sqs_queue.schedule_dead_letters[0].url
}

output "vpc_endpoints" {
  description = "The VPC endpoints this module created (service => id): S3 gateway always, interface ones with subnet_egress = \"endpoints\"."
  value       = merge({ for k, e in aws_vpc_endpoint.s3 : k => e.id }, { for k, e in aws_vpc_endpoint.interface : k => e.id })
}

output "runs_root" {
  description = "Where run directories go (the jobs may write nowhere else)."
  value       = local.runs_root
}

output "nightly_root" {
  description = "The nightly's --root: current table, current.json, its runs."
  value       = local.nightly_root
}

output "log_group" {
  description = "CloudWatch log group of the jobs (JSON lines per shard)."
  value       = aws_cloudwatch_log_group.imgtag.name
}

output "dataset" {
  description = "Give to imgtag plan --dataset: the tags table's location."
  value       = local.dataset
}

output "athena_table" {
  description = "The tags table to query in Athena (workgroup athena_workgroup)."
  value       = "${aws_glue_catalog_database.imgtag.name}.${aws_glue_catalog_table.table["tags"].name}"
}

output "athena_current_table" {
  description = "The current table (one row per live object, newest tags) to query in Athena."
  value       = "${aws_glue_catalog_database.imgtag.name}.${aws_glue_catalog_table.table["current"].name}"
}

output "athena_workgroup" {
  description = "Athena workgroup for queries of the tags table."
  value       = aws_athena_workgroup.imgtag.name
}

output "query_policy_arn" {
  description = "Attach to whoever queries the tags."
  value       = aws_iam_policy.query.arn
}

output "alarm_topic" {
  description = "SNS topic told of every failed job (subscribe a pager or chat hook to it)."
  value       = aws_sns_topic.alarm.arn
}

output "operator_policy_arn" {
  description = "Attach to whoever runs imgtag plan, submit and report from their own machine."
  value       = aws_iam_policy.operator.arn
}

output "nightly_manifest_grants" {
  description = "What the nightly may read of nightly_manifest: the IAM statements its role gets (an Inventory folder read and listed, a dated manifest's folder, or one key list)."
  value       = local.inventory_statements
}

output "job_containers" {
  description = "Each job definition's container command and environment, known at plan (the rehearsal in test/rehearsal.test.ts runs them as Batch would)."
  value       = { for k, j in local.jobs : k => { command = j.command, environment = local.container_common.environment } }
}

output "stream_queue_url" {
  description = "The stream's SQS queue (listen --queue-url; null without stream)."
  value       = var.stream ? aws_sqs_queue.stream[0].url : null
}

output "stream_queue_arn" {
  description = "ARN of the stream's SQS queue (the redrive destination; null without stream)."
  value       = var.stream ? aws_sqs_queue.stream[0].arn : null
}

output "stream_dead_letter_queue_url" {
  description = "The stream's dead-letter queue: messages listen could not parse or tag (their reason attribute); redrive with aws sqs start-message-move-task (null without stream)."
  value       = var.stream ? aws_sqs_queue.stream_dead_letters[0].url : null
}

output "stream_service" {
  description = "The listen service, as aws ecs describe-services --cluster <cluster> --services <name> takes it (null without stream)."
  value       = var.stream ? { cluster = aws_ecs_cluster.stream[0].name, name = aws_ecs_service.stream[0].name } : null
}
