# Spot instances scaled from zero by AWS Batch; the allocation strategy picks the pools least likely
# to be reclaimed at a low price, across every listed instance type. The tagging fleet is CPU or GPU
# (var.tagging_fleet); small CPU instances run the nightly's planning step and the compact jobs.
locals {
  gpu = var.tagging_fleet == "gpu"
  # What follows from the fleet: instances, AMI, the child's resources and --device, the image target.
  fleet = {
    instance_types = local.gpu ? var.instance_types : var.cpu_instance_types
    image_type     = local.gpu ? "ECS_AL2023_NVIDIA" : "ECS_AL2023"
    memory_mib     = var.job_memory_mib > 0 ? var.job_memory_mib : (local.gpu ? 14000 : 7168)
    device         = var.device != "" ? var.device : (local.gpu ? "cuda" : "cpu")
    image_target   = local.gpu ? "gpu" : "cpu"
  }
  compute_environments = {
    tag      = { max_vcpus = var.max_vcpus, instance_types = local.fleet.instance_types, image_type = local.fleet.image_type, volume_gib = 0 }
    planning = { max_vcpus = var.planning_max_vcpus, instance_types = var.planning_instance_types, image_type = "ECS_AL2023", volume_gib = var.planning_volume_gib }
  }
  # Batch takes launch template user data only as MIME multipart. ECS spot draining (off by
  # default): on EC2's 2-minute reclaim notice the agent sets the instance DRAINING, so no new job
  # is placed on a host about to go. It does not stop the jobs already there: ECS stops only service
  # tasks when it drains, and Batch's are standalone tasks. They run until the host goes; the attempt
  # then fails with "Host EC2 (instance i-...) terminated." and is retried (`Host EC2*` below); the
  # shards it held are taken again once their leases expire (2 minutes), each redone exactly once.
  # AWS Batch runs EC2 jobs in host network mode, where the metadata service's hop limit stops no
  # container: the image's user (infra/docker/Dockerfile, useradd --uid) is refused it by iptables,
  # so no job can take the instance role; the ECS agent (root) still reaches it.
  image_uid = 10001
  user_data = <<-MIME
    MIME-Version: 1.0
    Content-Type: multipart/mixed; boundary="==IMGTAG=="

    --==IMGTAG==
    Content-Type: text/x-shellscript; charset="us-ascii"

    #!/bin/bash
    echo ECS_ENABLE_SPOT_INSTANCE_DRAINING=true >> /etc/ecs/ecs.config
    iptables --insert OUTPUT --destination 169.254.169.254/32 --match owner --uid-owner ${local.image_uid} --jump REJECT

    --==IMGTAG==--
  MIME
}

resource "aws_launch_template" "fleet" {
  for_each  = local.compute_environments
  name      = "${var.name}-${each.key}"
  user_data = base64encode(local.user_data)
  # IMDSv2 only, and a hop limit of 1: the instance's own agent reaches the metadata service, a
  # container on Docker's bridge network (one hop further) does not, so no job can take the instance
  # role. The jobs' credentials come from their own job role through the ECS agent's endpoint
  # (169.254.170.2, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI), which is not the metadata service.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  # The planning job joins the Inventory against the current table on local disk (DuckDB spills
  # there): at 300 M objects that is ~50 GB, more than the AMI's default volume.
  dynamic "block_device_mappings" {
    for_each = each.value.volume_gib > 0 ? [each.value.volume_gib] : []
    content {
      device_name = "/dev/xvda"
      ebs {
        volume_size           = block_device_mappings.value
        volume_type           = "gp3"
        encrypted             = true
        delete_on_termination = true
      }
    }
  }
}

resource "aws_batch_compute_environment" "spot" {
  for_each = local.compute_environments
  # A changed compute environment is replaced: the new one first, under a fresh name, so the queue
  # always has one.
  compute_environment_name_prefix = "${var.name}-${each.key}-"
  type                            = "MANAGED"
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
    launch_template {
      launch_template_id = aws_launch_template.fleet[each.key].id
      version            = aws_launch_template.fleet[each.key].latest_version
    }
  }
  lifecycle {
    create_before_destroy = true
  }
  # Instances start only once the subnets reach S3 (and, without a NAT, ECS, ECR and the logs),
  # and are gone before the endpoints are.
  depends_on = [aws_vpc_endpoint.s3, aws_vpc_endpoint.interface]
}

# Two queues: "tag" for the array children only; "planning" for CPU work (the nightly's planning
# step: read the Inventory, join it against the current table, submit the delta; and the compact
# jobs), never on the tagging fleet.
locals {
  queues = {
    tag      = var.name
    planning = "${var.name}-planning"
  }
  # What Batch reports for a job blocked at the head of a queue that no wait will unblock (or only a
  # long one): cancelled after runnable_timeout_seconds, the job fails and the alarm pages. A job
  # waiting its turn behind running jobs carries none of these reasons and is left alone.
  blocked_reasons = ["CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE", "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"]
}

resource "aws_batch_job_queue" "queue" {
  for_each = local.queues
  name     = each.value
  state    = "ENABLED"
  priority = 1
  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.spot[each.key].arn
  }
  dynamic "job_state_time_limit_action" {
    for_each = local.blocked_reasons
    content {
      state            = "RUNNABLE"
      reason           = job_state_time_limit_action.value
      max_time_seconds = var.runnable_timeout_seconds
      action           = "CANCEL"
    }
  }
}

# The queues were two resources of their own before they shared their settings.
moved {
  from = aws_batch_job_queue.tag
  to   = aws_batch_job_queue.queue["tag"]
}

moved {
  from = aws_batch_job_queue.planning
  to   = aws_batch_job_queue.queue["planning"]
}

# What every job's container shares: the image, the region, the logs.
locals {
  image = var.image_digest != "" ? "${aws_ecr_repository.imgtag.repository_url}@${var.image_digest}" : "${aws_ecr_repository.imgtag.repository_url}:${var.image_tag}"
  container_common = {
    image            = local.image
    executionRoleArn = aws_iam_role.execution.arn
    environment      = [{ name = "AWS_REGION", value = var.region }]
    # An init process as PID 1: it forwards SIGTERM (`aws batch terminate-job`, the attempt's
    # timeout) to imgtag, which stops gracefully within its --stop-timeout (20 s, under ECS's 30 s
    # before SIGKILL), and reaps exited workers.
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
  cpu_job_resources = [
    { type = "VCPU", value = tostring(var.planning_vcpus) },
    { type = "MEMORY", value = tostring(var.planning_memory_mib) },
  ]
  image_precondition = "set image_digest (best: every retry runs the same image) or image_tag to the image you pushed; on a new account first create the repository alone: terraform apply -target=aws_ecr_repository.imgtag (README, step 2)."
}

# Three job definitions, one role each (iam.tf):
# - tag: every array child; `imgtag run --shard-from-env` takes its shards from
#   AWS_BATCH_JOB_ARRAY_INDEX; parameters (Ref::...) are set per submission by `imgtag submit`.
#   Retried on a spot reclaim, an image pull failure, or unfinished shards (exit 3).
# - nightly: CPU; the schedule gives its command. Safe to retry (a lock, and a run it planned but
#   could not submit is submitted by the next try); a busy previous run exits 0; exit 3 ("retry
#   later": stopped, or a shard held by another lease) is retried.
# - compact: after an array job (submit and the nightly chain it), CPU; exit 3 (another process
#   holds the compaction lease, or shards are unfinished) is retried.
# Anything else (a bad plan, a bad model, refused credentials) fails fast and pages.
locals {
  jobs = {
    tag = {
      name       = var.name
      parameters = { run = "${local.runs_root}unset", shards_per_task = "1" }
      command = [
        "run", "--run", "Ref::run", "--shard-from-env", "--shards-per-task", "Ref::shards_per_task",
        "--workers", tostring(var.job_workers), "--model", var.model, "--device", local.fleet.device,
      ]
      resources = concat(
        [
          { type = "VCPU", value = tostring(var.job_vcpus) },
          { type = "MEMORY", value = tostring(local.fleet.memory_mib) },
        ],
        local.gpu ? [{ type = "GPU", value = "1" }] : [],
      )
      retry_reasons    = ["CannotPullContainerError*"]
      retry_exit_codes = ["3"]
    }
    nightly = {
      name             = "${var.name}-nightly"
      parameters       = {}
      command          = ["nightly", "--help"]
      resources        = local.cpu_job_resources
      retry_reasons    = []
      retry_exit_codes = ["3"]
    }
    compact = {
      name             = "${var.name}-compact"
      parameters       = { run = "${local.runs_root}unset" }
      command          = ["compact", "--run", "Ref::run"]
      resources        = local.cpu_job_resources
      retry_reasons    = []
      retry_exit_codes = ["3"]
    }
  }
}

resource "aws_batch_job_definition" "job" {
  for_each = local.jobs
  lifecycle {
    precondition {
      condition     = var.image_tag != "" || var.image_digest != ""
      error_message = local.image_precondition
    }
  }
  name                  = each.value.name
  type                  = "container"
  platform_capabilities = ["EC2"]
  # The ECS tasks carry the job definition's tags (the provider's default_tags): cost per task.
  propagate_tags = true
  parameters     = each.value.parameters
  retry_strategy {
    attempts = var.job_attempts
    # A spot reclaim terminates the host: retry.
    evaluate_on_exit {
      on_status_reason = "Host EC2*"
      action           = "RETRY"
    }
    dynamic "evaluate_on_exit" {
      for_each = each.value.retry_reasons
      content {
        on_reason = evaluate_on_exit.value
        action    = "RETRY"
      }
    }
    dynamic "evaluate_on_exit" {
      for_each = each.value.retry_exit_codes
      content {
        on_exit_code = evaluate_on_exit.value
        action       = "RETRY"
      }
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
    jobRoleArn           = aws_iam_role.job[each.key].arn
    command              = each.value.command
    resourceRequirements = each.value.resources
  }))
}
