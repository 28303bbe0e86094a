# The nightly: a small CPU job that locks, joins the Inventory against the current table, and tags a
# small delta itself (on CPU) or submits a large one to the tagging queue (shards per child chosen
# so the array fits in 10,000 children), with a compact job on the CPU queue that then updates the
# current table. Queues and job definitions are named, not ARNs (SubmitJob takes either; a name
# without a revision is the latest active job definition): the input is then known at plan, and the
# rehearsal (test/rehearsal.test.ts) runs exactly what the schedule will submit.
# Until the first Inventory report exists (up to 48 hours after step 6), the nightly exits 0 and
# logs `nightly-waiting`; if none has come 3 days after its first wait, it exits 1 and pages.
locals {
  schedule = var.nightly_manifest == "" ? [] : ["${var.name}-nightly"]
  # One SubmitJob request, rendered twice from these values: for the schedule (the Batch API's
  # member names as Scheduler's universal target takes them) and for `aws batch submit-job
  # --cli-input-json` (output nightly_submit_job), so that a nightly run by hand is the scheduled one.
  nightly_job = {
    name       = "${var.name}-nightly"
    queue      = aws_batch_job_queue.queue["planning"].name
    definition = aws_batch_job_definition.job["nightly"].name
    command = [
      "nightly", "--root", local.nightly_root, "--dataset", local.dataset, "--manifest", var.nightly_manifest,
      "--glue-table", "${aws_glue_catalog_database.imgtag.name}.current",
      "--model", var.model, "--device", "cpu", "--fleet-threshold", tostring(var.nightly_fleet_threshold),
      "--shard-size", tostring(var.nightly_shard_size),
      "--job-queue", aws_batch_job_queue.queue["tag"].name, "--job-definition", aws_batch_job_definition.job["tag"].name,
      "--compact-job-queue", aws_batch_job_queue.queue["planning"].name, "--compact-job-definition", aws_batch_job_definition.job["compact"].name,
    ]
  }
  # Its own schedule group: Scheduler's metrics (alarms.tf) are per group, so they see this schedule alone.
  schedule_arns = [for s in local.schedule : "arn:${local.partition}:scheduler:${var.region}:${local.account}:schedule/${var.name}/${s}"]
}

resource "aws_scheduler_schedule_group" "imgtag" {
  count = length(local.schedule)
  name  = var.name
}

resource "aws_scheduler_schedule" "nightly" {
  count               = length(local.schedule)
  name                = local.schedule[count.index]
  group_name          = aws_scheduler_schedule_group.imgtag[0].name
  schedule_expression = var.nightly_schedule
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = "arn:${local.partition}:scheduler:::aws-sdk:batch:submitJob"
    role_arn = aws_iam_role.scheduler.arn
    input = jsonencode({
      JobName            = local.nightly_job.name
      JobQueue           = local.nightly_job.queue
      JobDefinition      = local.nightly_job.definition
      ContainerOverrides = { Command = local.nightly_job.command }
    })
    retry_policy {
      maximum_retry_attempts = 2
    }
    # A submission Scheduler gives up on (after the retries) lands here, with the error, and the
    # alarms in alarms.tf page.
    dead_letter_config {
      arn = aws_sqs_queue.schedule_dead_letters[0].arn
    }
  }
}

resource "aws_sqs_queue" "schedule_dead_letters" {
  count                     = length(local.schedule)
  name                      = "${var.name}-nightly-dead-letters"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}
