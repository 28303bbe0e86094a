# Everything that needs a person goes to one topic (alarm_topic):
# - a failed job (after its retries): exit 1 (bad plan, bad model, refused credentials), 4 (over
#   --max-error-rate), out of spot retries, or cancelled after runnable_timeout_seconds blocked at
#   the head of a queue (batch.tf). Array children are left out: their parent fails with them, once;
# - a queue blocked: Batch's "Batch Job Queue Blocked" event, as soon as it finds a job at the head
#   of a queue that cannot start (no spot capacity, or more than the compute environment can give);
# - a nightly the schedule could not submit: Scheduler's target errors and dropped invocations
#   (the dead-letter queue keeps the error).
# Not encrypted with the AWS-managed SNS key: EventBridge cannot publish to a topic under it.
resource "aws_sns_topic" "alarm" {
  name = "${var.name}-failed-jobs"
}

locals {
  alarm_name_prefix = "${var.name}-"
  # EventBridge rules on the module's queues: what is matched, besides the queue.
  job_events = {
    failed_jobs = {
      description = "imgtag jobs that failed after their retries"
      detail_type = "Batch Job State Change"
      detail      = { status = ["FAILED"], arrayProperties = { index = [{ exists = false }] } }
    }
    blocked_queues = {
      description = "imgtag queues blocked by a job that cannot start"
      detail_type = "Batch Job Queue Blocked"
      detail      = {}
    }
  }
  # Scheduler publishes per schedule group (the module's has the nightly alone).
  schedule_alarms = {
    TargetErrorCount       = "SubmitJob of the nightly failed (a retry may still succeed; the dead-letter queue has the error)"
    InvocationDroppedCount = "the nightly was not submitted: Scheduler gave up after its retries (the dead-letter queue has the error)"
  }
}

resource "aws_sns_topic_policy" "alarm" {
  arn = aws_sns_topic.alarm.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EventBridgePublishes", Effect = "Allow", Action = "sns:Publish", Resource = aws_sns_topic.alarm.arn
        Principal = { Service = "events.amazonaws.com" }
        # Only this module's rules.
        Condition = { ArnEquals = { "aws:SourceArn" = [for r in aws_cloudwatch_event_rule.job_events : r.arn] } }
      },
      {
        Sid       = "CloudWatchAlarmsPublish", Effect = "Allow", Action = "sns:Publish", Resource = aws_sns_topic.alarm.arn
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Condition = {
          ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:cloudwatch:${var.region}:${local.account}:alarm:${local.alarm_name_prefix}*" }
          StringEquals = { "aws:SourceAccount" = local.account }
        }
      },
    ]
  })
}

resource "aws_cloudwatch_event_rule" "job_events" {
  for_each    = local.job_events
  name        = "${var.name}-${replace(each.key, "_", "-")}"
  description = each.value.description
  event_pattern = jsonencode({
    source        = ["aws.batch"]
    "detail-type" = [each.value.detail_type]
    detail        = merge(each.value.detail, { jobQueue = values(local.queue_arns) })
  })
}

resource "aws_cloudwatch_event_target" "job_events" {
  for_each = aws_cloudwatch_event_rule.job_events
  rule     = each.value.name
  arn      = aws_sns_topic.alarm.arn
}

resource "aws_cloudwatch_metric_alarm" "schedule" {
  for_each            = length(local.schedule) > 0 ? local.schedule_alarms : {}
  alarm_name          = "${local.alarm_name_prefix}nightly-${each.key}"
  alarm_description   = each.value
  namespace           = "AWS/Scheduler"
  metric_name         = each.key
  dimensions          = { ScheduleGroup = aws_scheduler_schedule_group.imgtag[0].name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarm.arn]
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarm.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# The failed-job rule was a resource of its own before the queue-blocked one joined it.
moved {
  from = aws_cloudwatch_event_rule.failed_jobs
  to   = aws_cloudwatch_event_rule.job_events["failed_jobs"]
}

moved {
  from = aws_cloudwatch_event_target.failed_jobs
  to   = aws_cloudwatch_event_target.job_events["failed_jobs"]
}
