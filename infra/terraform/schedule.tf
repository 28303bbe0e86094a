# The nightly: a small CPU job that locks, joins the Inventory against the current table, and tags a
# small delta itself (on CPU) or submits a large one to the tagging queue (shards per child chosen
# so the array fits in 10,000 children), with a compact job on the CPU queue that then updates the
# current table. Job definitions are named without a revision: Batch takes the latest active one.
resource "aws_scheduler_schedule" "nightly" {
  count               = var.nightly_manifest == "" ? 0 : 1
  name                = "${var.name}-nightly"
  schedule_expression = var.nightly_schedule
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = "arn:${local.partition}:scheduler:::aws-sdk:batch:submitJob"
    role_arn = aws_iam_role.scheduler.arn
    input = jsonencode({
      JobName       = "${var.name}-nightly"
      JobQueue      = aws_batch_job_queue.planning.arn
      JobDefinition = aws_batch_job_definition.job["nightly"].arn_prefix
      ContainerOverrides = {
        Command = [
          "nightly", "--root", local.nightly_root, "--dataset", local.dataset, "--manifest", var.nightly_manifest,
          "--glue-table", "${aws_glue_catalog_database.imgtag.name}.current",
          "--model", var.model, "--device", "cpu", "--fleet-threshold", tostring(var.nightly_fleet_threshold),
          "--job-queue", aws_batch_job_queue.tag.arn, "--job-definition", aws_batch_job_definition.job["tag"].arn_prefix,
          "--compact-job-queue", aws_batch_job_queue.planning.arn, "--compact-job-definition", aws_batch_job_definition.job["compact"].arn_prefix,
        ]
      }
    })
    retry_policy {
      maximum_retry_attempts = 2
    }
  }
}
