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

output "runs_root" {
  description = "Where run directories go (the jobs may write nowhere else)."
  value       = local.runs_root
}

output "log_group" {
  description = "CloudWatch log group of the jobs (JSON lines per shard)."
  value       = aws_cloudwatch_log_group.imgtag.name
}
