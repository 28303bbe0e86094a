# The stream (var.stream): new uploads tagged within a minute, beside the nightly. S3 tells an SQS
# queue of every object created or removed under input_prefix (a bucket notification, or the
# bucket's EventBridge events through a rule); `imgtag listen`, an ECS service on Fargate, tags the
# created ones in micro-batches and stages them under <nightly_root>/stream/, which the nightly folds
# into the dataset and the current table without tagging them again. The service scales with the
# queue's depth, down to zero tasks. Off by default: nothing here exists unless stream = true.
locals {
  stream      = var.stream ? ["stream"] : []
  stream_name = "${var.name}-stream"
  # Names known at plan, so every policy and alarm can be read in `terraform plan` (iam.tf).
  stream_queue_name = local.stream_name
  stream_dlq_name   = "${local.stream_name}-dead-letters"
  sqs_arn           = "arn:${local.partition}:sqs:${var.region}:${local.account}"
  stream_queue_arn  = "${local.sqs_arn}:${local.stream_queue_name}"
  stream_dlq_arn    = "${local.sqs_arn}:${local.stream_dlq_name}"
  stream_rule_arn   = "arn:${local.partition}:events:${var.region}:${local.account}:rule/${local.stream_name}"
  stream_root       = "${local.nightly_root}/stream/"
  # What the queue receives: S3's own notification (s3) or the bucket's EventBridge events (eventbridge).
  stream_events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
}

resource "aws_sqs_queue" "stream_dead_letters" {
  count                     = length(local.stream)
  name                      = local.stream_dlq_name
  message_retention_seconds = 1209600 # 14 days, SQS's longest: time to look and redrive
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "stream" {
  count = length(local.stream)
  name  = local.stream_queue_name
  # SSE-SQS: S3 and EventBridge may send to it with no KMS key policy to write.
  sqs_managed_sse_enabled = true
  # The consumer extends a message's visibility while it tags it (ChangeMessageVisibility); a
  # consumer killed with messages in hand lets them return after this long.
  visibility_timeout_seconds = var.stream_visibility_timeout_seconds
  message_retention_seconds  = 345600 # 4 days: a weekend's outage; older ones the nightly finds anyway
  receive_wait_time_seconds  = 20
  redrive_policy = jsonencode({
    deadLetterTargetArn = local.stream_dlq_arn
    maxReceiveCount     = var.stream_max_receive_count
  })
  depends_on = [aws_sqs_queue.stream_dead_letters]
}

# Only the stream's queue may move messages into its dead-letter queue (and be redriven from it).
resource "aws_sqs_queue_redrive_allow_policy" "stream" {
  count     = length(local.stream)
  queue_url = aws_sqs_queue.stream_dead_letters[0].url
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.stream_queue_arn]
  })
}

# Who may send to the queue: S3, for the input bucket of this account, or the module's EventBridge rule.
resource "aws_sqs_queue_policy" "stream" {
  count     = length(local.stream)
  queue_url = aws_sqs_queue.stream[0].url
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [var.stream_source == "s3" ? {
      Sid    = "BucketNotifications", Effect = "Allow", Principal = { Service = "s3.amazonaws.com" }
      Action = "sqs:SendMessage", Resource = local.stream_queue_arn
      Condition = {
        ArnEquals    = { "aws:SourceArn" = local.input_bucket_arn }
        StringEquals = { "aws:SourceAccount" = local.account }
      }
      } : {
      Sid       = "BucketEvents", Effect = "Allow", Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage", Resource = local.stream_queue_arn
      Condition = { ArnEquals = { "aws:SourceArn" = local.stream_rule_arn } }
    }]
  })
}

# S3's notification to the queue. A bucket has ONE notification configuration and this resource
# replaces it whole (PutBucketNotificationConfiguration): a bucket that already notifies anything
# takes stream_source = "eventbridge" instead (README: "Fresh within a minute").
resource "aws_s3_bucket_notification" "stream" {
  count  = var.stream && var.stream_source == "s3" ? 1 : 0
  bucket = var.input_bucket
  queue {
    id            = local.stream_name
    queue_arn     = aws_sqs_queue.stream[0].arn
    events        = local.stream_events
    filter_prefix = var.input_prefix == "" ? null : var.input_prefix
  }
  # S3 checks that it may send (a test message) when the configuration is put.
  depends_on = [aws_sqs_queue_policy.stream]
}

# Or the bucket's EventBridge events (turned on by whoever owns the bucket's notification
# configuration: "Send notifications to Amazon EventBridge"), matched here and sent to the queue.
resource "aws_cloudwatch_event_rule" "stream" {
  count       = var.stream && var.stream_source == "eventbridge" ? 1 : 0
  name        = local.stream_name
  description = "imgtag stream: objects created or deleted under the input prefix"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created", "Object Deleted"]
    detail = merge(
      { bucket = { name = [var.input_bucket] } },
      var.input_prefix == "" ? {} : { object = { key = [{ prefix = var.input_prefix }] } },
    )
  })
}

resource "aws_cloudwatch_event_target" "stream" {
  count      = length(aws_cloudwatch_event_rule.stream)
  rule       = aws_cloudwatch_event_rule.stream[0].name
  target_id  = "queue"
  arn        = aws_sqs_queue.stream[0].arn
  depends_on = [aws_sqs_queue_policy.stream]
}

# The consumer: ECS on Fargate (x86_64, as the image is built: docker build --platform linux/amd64),
# in the fleet's subnets and security groups with no public IP, logging to the module's log group.
resource "aws_ecs_cluster" "stream" {
  count = length(local.stream)
  name  = local.stream_name
}

resource "aws_ecs_task_definition" "stream" {
  count = length(local.stream)
  lifecycle {
    precondition {
      condition     = var.image_tag != "" || var.image_digest != ""
      error_message = local.image_precondition
    }
  }
  family                   = "${var.name}-listen"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.stream_task_cpu)
  memory                   = tostring(var.stream_task_memory_mib)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.stream[0].arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  container_definitions = jsonencode([{
    name      = "listen"
    image     = local.image
    essential = true
    command = [
      "listen", "--root", local.nightly_root, "--dataset", local.dataset,
      "--queue-url", aws_sqs_queue.stream[0].url, "--dead-letter-queue-url", aws_sqs_queue.stream_dead_letters[0].url,
      "--model", var.model, "--device", "cpu",
      "--batch-size", tostring(var.stream_batch_size), "--batch-seconds", tostring(var.stream_batch_seconds),
    ]
    environment      = local.container_common.environment
    linuxParameters  = local.container_common.linuxParameters
    logConfiguration = merge(local.container_common.logConfiguration, { options = merge(local.container_common.logConfiguration.options, { "awslogs-stream-prefix" = local.stream_name }) })
    # SIGTERM (scale-in, a deployment): listen releases what it holds within seconds; SIGKILL after this.
    stopTimeout = 30
  }])
}

resource "aws_ecs_service" "stream" {
  count           = length(local.stream)
  name            = "${var.name}-listen"
  cluster         = aws_ecs_cluster.stream[0].arn
  task_definition = aws_ecs_task_definition.stream[0].arn
  launch_type     = "FARGATE"
  # Application Auto Scaling owns the count from here on (below): an apply does not reset it.
  desired_count = var.stream_min_tasks
  lifecycle {
    ignore_changes = [desired_count]
  }
  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }
  # Cost allocation per task, as the Batch jobs (propagate_tags).
  propagate_tags          = "TASK_DEFINITION"
  enable_ecs_managed_tags = true
  # Tasks start once the subnets reach ECR, the logs, S3 and SQS, and are gone before the endpoints.
  depends_on = [aws_iam_role_policy.stream, aws_vpc_endpoint.s3, aws_vpc_endpoint.interface]
}

# Scaling on the queue's depth, from zero: step policies driven by the alarms below (Application
# Auto Scaling repeats a step policy once a minute while its alarm stays in ALARM, held by the cooldown).
# - wake: messages visible and none in flight (no consumer holds any: none runs) -> 1 task;
# - backlog: stream_scale_out_backlog messages visible for 2 minutes -> +1 task, +2 at ten times that;
# - idle: nothing visible or in flight for stream_scale_in_minutes -> 0 (or stream_min_tasks).
resource "aws_appautoscaling_target" "stream" {
  count              = length(local.stream)
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.stream[0].name}/${aws_ecs_service.stream[0].name}"
  min_capacity       = var.stream_min_tasks
  max_capacity       = var.stream_max_tasks
}

locals {
  stream_scaling = {
    wake    = { adjustment_type = "ExactCapacity", cooldown = 60, steps = [{ lower = "0", upper = null, adjustment = 1 }] }
    backlog = { adjustment_type = "ChangeInCapacity", cooldown = 120, steps = [{ lower = "0", upper = tostring(9 * var.stream_scale_out_backlog), adjustment = 1 }, { lower = tostring(9 * var.stream_scale_out_backlog), upper = null, adjustment = 2 }] }
    idle    = { adjustment_type = "ExactCapacity", cooldown = 60, steps = [{ lower = null, upper = "0", adjustment = 0 }] }
  }
  # The queue's metrics, per minute (SQS publishes them each minute).
  stream_metrics = {
    visible  = "ApproximateNumberOfMessagesVisible"
    inflight = "ApproximateNumberOfMessagesNotVisible"
  }
  stream_scaling_alarms = {
    # visible - 1e6 x in flight: >= 1 only when messages wait and no consumer holds one.
    wake    = { expression = "visible - 1000000 * inflight", threshold = 1, comparison = "GreaterThanOrEqualToThreshold", periods = 1, missing = "notBreaching" }
    backlog = { expression = "visible", threshold = var.stream_scale_out_backlog, comparison = "GreaterThanOrEqualToThreshold", periods = 2, missing = "notBreaching" }
    # An idle queue may publish nothing: no data is empty.
    idle = { expression = "visible + inflight", threshold = 0, comparison = "LessThanOrEqualToThreshold", periods = var.stream_scale_in_minutes, missing = "breaching" }
  }
}

resource "aws_appautoscaling_policy" "stream" {
  for_each           = var.stream ? local.stream_scaling : {}
  name               = "${local.stream_name}-${each.key}"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.stream[0].service_namespace
  scalable_dimension = aws_appautoscaling_target.stream[0].scalable_dimension
  resource_id        = aws_appautoscaling_target.stream[0].resource_id
  step_scaling_policy_configuration {
    adjustment_type         = each.value.adjustment_type
    cooldown                = each.value.cooldown
    metric_aggregation_type = "Maximum"
    dynamic "step_adjustment" {
      for_each = each.value.steps
      content {
        metric_interval_lower_bound = step_adjustment.value.lower
        metric_interval_upper_bound = step_adjustment.value.upper
        scaling_adjustment          = step_adjustment.value.adjustment
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "stream_scaling" {
  for_each            = var.stream ? local.stream_scaling_alarms : {}
  alarm_name          = "${local.alarm_name_prefix}stream-scale-${each.key}"
  alarm_description   = "imgtag stream: scales the listen service (${each.key}); pages no one"
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  evaluation_periods  = each.value.periods
  treat_missing_data  = each.value.missing
  alarm_actions       = [aws_appautoscaling_policy.stream[each.key].arn]
  dynamic "metric_query" {
    for_each = local.stream_metrics
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/SQS"
        metric_name = metric_query.value
        dimensions  = { QueueName = aws_sqs_queue.stream[0].name }
        period      = 60
        stat        = "Maximum"
      }
    }
  }
  metric_query {
    id          = "e"
    expression  = each.value.expression
    label       = each.key
    return_data = true
  }
}

# Pages (alarm_topic): a message the consumer gave up on (the dead-letter queue: unparseable, or
# stream_max_receive_count receives without success), and a queue falling behind.
resource "aws_cloudwatch_metric_alarm" "stream" {
  for_each = var.stream ? {
    dead-letters   = { queue = local.stream_dlq_name, metric = "ApproximateNumberOfMessagesVisible", threshold = 0, description = "imgtag stream: messages in the dead-letter queue (reason in their attributes; redrive with aws sqs start-message-move-task)" }
    oldest-message = { queue = local.stream_queue_name, metric = "ApproximateAgeOfOldestMessage", threshold = var.stream_oldest_message_alarm_seconds, description = "imgtag stream: the oldest message waits longer than stream_oldest_message_alarm_seconds (consumer down, at stream_max_tasks, or failing)" }
  } : {}
  alarm_name          = "${local.alarm_name_prefix}stream-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/SQS"
  metric_name         = each.value.metric
  dimensions          = { QueueName = each.value.queue }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarm.arn]
  depends_on          = [aws_sqs_queue.stream, aws_sqs_queue.stream_dead_letters]
}
