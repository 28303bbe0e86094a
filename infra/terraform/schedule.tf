# The nightly: a small CPU job that locks, joins the Inventory against the current table, and tags a
# small delta itself (on CPU) or submits a large one to the GPU queue, with a compact job on the CPU
# queue that then updates the current table.
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
      JobQueue      = aws_batch_job_queue.planning.arn
      JobDefinition = aws_batch_job_definition.nightly.arn
      ContainerOverrides = {
        Command = [
          "nightly", "--root", "${local.runs_root}nightly", "--dataset", local.dataset, "--manifest", var.nightly_manifest,
          "--model", var.model, "--device", "cpu", "--fleet-threshold", tostring(var.nightly_fleet_threshold),
          "--job-queue", aws_batch_job_queue.imgtag.arn, "--job-definition", aws_batch_job_definition.imgtag.arn,
          "--compact-job-queue", aws_batch_job_queue.planning.arn, "--compact-job-definition", aws_batch_job_definition.nightly.arn,
        ]
      }
    })
    retry_policy {
      maximum_retry_attempts = 2
    }
  }
}
