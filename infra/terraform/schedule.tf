# The nightly run: one job that locks, plans what is new since the last run, and tags it.
resource "aws_scheduler_schedule" "nightly" {
  count               = var.nightly_manifest == "" ? 0 : 1
  name                = "${var.name}-nightly"
  schedule_expression = var.nightly_schedule
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = "arn:aws:scheduler:::aws-sdk:batch:submitJob"
    role_arn = aws_iam_role.scheduler.arn
    input = jsonencode({
      JobName       = "${var.name}-nightly"
      JobQueue      = aws_batch_job_queue.imgtag.arn
      JobDefinition = aws_batch_job_definition.imgtag.arn
      ContainerOverrides = {
        Command = [
          "nightly", "--root", "${local.runs_root}nightly", "--dataset", local.dataset, "--manifest", var.nightly_manifest,
          "--workers", tostring(var.job_workers), "--model", var.model, "--device", var.device,
        ]
      }
    })
    retry_policy {
      maximum_retry_attempts = 2
    }
  }
}
