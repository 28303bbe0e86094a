# A failed job (after its retries) notifies the alarm topic: a job that exits 1 (bad plan, bad model,
# refused credentials) or 4 (over --max-error-rate), or runs out of spot retries. Array children are
# left out: their parent fails with them, once.
# Not encrypted with the AWS-managed SNS key: EventBridge cannot publish to a topic under it.
resource "aws_sns_topic" "alarm" {
  name = "${var.name}-failed-jobs"
}

resource "aws_sns_topic_policy" "alarm" {
  arn = aws_sns_topic.alarm.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EventBridgePublishes", Effect = "Allow", Action = "sns:Publish", Resource = aws_sns_topic.alarm.arn
      Principal = { Service = "events.amazonaws.com" }
      # Only this account's failed-job rule.
      Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.failed_jobs.arn } }
    }]
  })
}

resource "aws_cloudwatch_event_rule" "failed_jobs" {
  name        = "${var.name}-failed-jobs"
  description = "imgtag jobs that failed after their retries"
  event_pattern = jsonencode({
    source        = ["aws.batch"]
    "detail-type" = ["Batch Job State Change"]
    detail = {
      status          = ["FAILED"]
      jobQueue        = [aws_batch_job_queue.tag.arn, aws_batch_job_queue.planning.arn]
      arrayProperties = { index = [{ exists = false }] }
    }
  })
}

resource "aws_cloudwatch_event_target" "failed_jobs" {
  rule = aws_cloudwatch_event_rule.failed_jobs.name
  arn  = aws_sns_topic.alarm.arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarm.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}
