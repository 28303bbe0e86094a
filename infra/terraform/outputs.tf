output "ecr_repository_url" {
  description = "Push the imgtag image here (see infra/docker)."
  value       = aws_ecr_repository.imgtag.repository_url
}

output "job_queue" {
  description = "Give to imgtag submit --job-queue."
  value       = aws_batch_job_queue.imgtag.arn
}

output "job_definition" {
  description = "Give to imgtag submit --job-definition."
  value       = aws_batch_job_definition.imgtag.arn
}

output "planning_queue" {
  description = "Give to imgtag submit/nightly --compact-job-queue: CPU jobs (compaction, the nightly's planning)."
  value       = aws_batch_job_queue.planning.arn
}

output "nightly_job_definition" {
  description = "Give to imgtag submit/nightly --compact-job-definition: the CPU job definition."
  value       = aws_batch_job_definition.nightly.arn
}

output "runs_root" {
  description = "Where run directories go (the jobs may write nowhere else)."
  value       = local.runs_root
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
  value       = "${aws_glue_catalog_database.imgtag.name}.${aws_glue_catalog_table.tags.name}"
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
