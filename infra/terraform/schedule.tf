# The nightly: a small CPU job that locks, joins the Inventory against the current table, and tags a
# small delta itself (on CPU) or submits a large one to the tagging queue (shards per child chosen
# so the array fits in 10,000 children), with a compact job on the CPU queue that then updates the
# current table. Queues and job definitions are named, not ARNs (SubmitJob takes either; a name
# without a revision is the latest active job definition): the input is then known at plan, and the
# rehearsal (test/rehearsal.test.ts) runs exactly what the schedule will submit.
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
      JobQueue      = aws_batch_job_queue.planning.name
      JobDefinition = aws_batch_job_definition.job["nightly"].name
      ContainerOverrides = {
        Command = [
          "nightly", "--root", local.nightly_root, "--dataset", local.dataset, "--manifest", var.nightly_manifest,
          "--glue-table", "${aws_glue_catalog_database.imgtag.name}.current",
          "--model", var.model, "--device", "cpu", "--fleet-threshold", tostring(var.nightly_fleet_threshold),
          "--shard-size", tostring(var.nightly_shard_size),
          "--job-queue", aws_batch_job_queue.tag.name, "--job-definition", aws_batch_job_definition.job["tag"].name,
          "--compact-job-queue", aws_batch_job_queue.planning.name, "--compact-job-definition", aws_batch_job_definition.job["compact"].name,
        ]
      }
    })
    retry_policy {
      maximum_retry_attempts = 2
    }
  }
}
