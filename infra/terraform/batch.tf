# Spot instances scaled from zero by AWS Batch; the allocation strategy picks the pools least likely
# to be reclaimed at a low price, across every listed instance type. GPU ones tag; small CPU ones run
# the nightly's planning step and the compact jobs.
locals {
  compute_environments = {
    gpu_spot = { max_vcpus = var.max_vcpus, instance_types = var.instance_types, image_type = "ECS_AL2023_NVIDIA" }
    cpu_spot = { max_vcpus = var.planning_max_vcpus, instance_types = var.planning_instance_types, image_type = "ECS_AL2023" }
  }
}

# The planning job joins the Inventory against the current table on local disk (DuckDB spills
# there): at 300 M objects that is ~50 GB, more than the AMI's default volume.
resource "aws_launch_template" "planning" {
  name = "${var.name}-planning"
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.planning_volume_gib
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }
}

resource "aws_batch_compute_environment" "spot" {
  for_each                 = local.compute_environments
  compute_environment_name = "${var.name}-${replace(each.key, "_", "-")}"
  type                     = "MANAGED"
  compute_resources {
    type                = "SPOT"
    allocation_strategy = "SPOT_PRICE_CAPACITY_OPTIMIZED"
    min_vcpus           = 0
    max_vcpus           = each.value.max_vcpus
    instance_type       = each.value.instance_types
    instance_role       = aws_iam_instance_profile.instance.arn
    # Instances Batch launches do not get the provider's default_tags: tag them for cost allocation.
    tags               = local.cost_tags
    subnets            = var.subnet_ids
    security_group_ids = var.security_group_ids
    ec2_configuration {
      image_type = each.value.image_type
    }
    dynamic "launch_template" {
      for_each = each.key == "cpu_spot" ? [aws_launch_template.planning.id] : []
      content {
        launch_template_id = launch_template.value
        version            = "$Latest"
      }
    }
  }
}

resource "aws_batch_job_queue" "imgtag" {
  name     = var.name
  state    = "ENABLED"
  priority = 1
  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.spot["gpu_spot"].arn
  }
}

# What every job's container shares: the image, the roles, the region, the logs.
locals {
  container_common = {
    image            = var.image_digest != "" ? "${aws_ecr_repository.imgtag.repository_url}@${var.image_digest}" : "${aws_ecr_repository.imgtag.repository_url}:${var.image_tag}"
    jobRoleArn       = aws_iam_role.job.arn
    executionRoleArn = aws_iam_role.execution.arn
    environment      = [{ name = "AWS_REGION", value = var.region }]
    # An init process as PID 1: it forwards SIGTERM (spot reclaim, job stop) to imgtag, which stops
    # gracefully within its --stop-timeout (20 s, under ECS's 30 s), and reaps exited workers.
    linuxParameters = { initProcessEnabled = true }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.imgtag.name
        "awslogs-region"        = var.region
        "awslogs-stream-prefix" = var.name
      }
    }
  }
}

# One definition for every array child: `imgtag run --shard-from-env` takes its shards from
# AWS_BATCH_JOB_ARRAY_INDEX. Parameters (Ref::...) are set per submission by `imgtag submit`.
resource "aws_batch_job_definition" "imgtag" {
  lifecycle {
    precondition {
      condition     = var.image_tag != "" || var.image_digest != ""
      error_message = "set image_digest (best: every retry runs the same image) or image_tag to the image you pushed."
    }
  }
  name                  = var.name
  type                  = "container"
  platform_capabilities = ["EC2"]
  # The ECS tasks carry the job definition's tags (the provider's default_tags): cost per task.
  propagate_tags = true
  parameters = {
    run             = "${local.runs_root}unset"
    shards_per_task = "1"
  }
  retry_strategy {
    attempts = var.job_attempts
    # A spot reclaim terminates the host: retry. Anything else (a bad plan, a bad model) fails fast.
    evaluate_on_exit {
      on_status_reason = "Host EC2*"
      action           = "RETRY"
    }
    evaluate_on_exit {
      on_reason = "CannotPullContainerError*"
      action    = "RETRY"
    }
    evaluate_on_exit {
      on_exit_code = "3"
      action       = "RETRY"
    }
    evaluate_on_exit {
      on_reason = "*"
      action    = "EXIT"
    }
  }
  timeout {
    attempt_duration_seconds = var.job_timeout_seconds
  }
  container_properties = jsonencode(merge(local.container_common, {
    command = [
      "run", "--run", "Ref::run", "--shard-from-env", "--shards-per-task", "Ref::shards_per_task",
      "--workers", tostring(var.job_workers), "--model", var.model, "--device", var.device,
    ]
    resourceRequirements = [
      { type = "VCPU", value = tostring(var.job_vcpus) },
      { type = "MEMORY", value = tostring(var.job_memory_mib) },
      { type = "GPU", value = "1" },
    ]
  }))
}

# CPU work: the nightly's planning step (read the Inventory, join it against the current table,
# submit the delta) and the compact jobs, never on the GPU queue.
resource "aws_batch_job_queue" "planning" {
  name     = "${var.name}-planning"
  state    = "ENABLED"
  priority = 1
  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.spot["cpu_spot"].arn
  }
}

# The nightly (and compact, by command override): CPU only. A spot reclaim retries it; the nightly
# is safe to retry (a lock, and a run it planned but could not submit is submitted by the next try).
resource "aws_batch_job_definition" "nightly" {
  name                  = "${var.name}-nightly"
  type                  = "container"
  platform_capabilities = ["EC2"]
  # The ECS tasks carry the job definition's tags (the provider's default_tags): cost per task.
  propagate_tags = true
  retry_strategy {
    attempts = var.job_attempts
    evaluate_on_exit {
      on_status_reason = "Host EC2*"
      action           = "RETRY"
    }
    evaluate_on_exit {
      on_reason = "*"
      action    = "EXIT"
    }
  }
  timeout {
    attempt_duration_seconds = var.job_timeout_seconds
  }
  container_properties = jsonencode(merge(local.container_common, {
    command = ["--help"]
    resourceRequirements = [
      { type = "VCPU", value = tostring(var.planning_vcpus) },
      { type = "MEMORY", value = tostring(var.planning_memory_mib) },
    ]
  }))
}
