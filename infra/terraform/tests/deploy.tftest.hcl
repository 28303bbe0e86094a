# The module planned and applied against a mocked AWS provider: no account, no network. Each run
# asserts what is rendered (policies, job definitions, schedule input, user data, event patterns).

mock_provider "aws" {
  mock_data "aws_partition" { defaults = { partition = "aws" } }
  mock_data "aws_caller_identity" { defaults = { account_id = "123456789012" } }
  # Where the provider checks that a value is an ARN, the mocked one must look like one.
  mock_resource "aws_iam_role" { defaults = { arn = "arn:aws:iam::123456789012:role/mocked" } }
  mock_resource "aws_iam_instance_profile" { defaults = { arn = "arn:aws:iam::123456789012:instance-profile/mocked" } }
  mock_resource "aws_batch_compute_environment" { defaults = { arn = "arn:aws:batch:us-east-1:123456789012:compute-environment/mocked" } }
  mock_resource "aws_sns_topic" { defaults = { arn = "arn:aws:sns:us-east-1:123456789012:imgtag-failed-jobs" } }
  mock_resource "aws_cloudwatch_event_rule" { defaults = { arn = "arn:aws:events:us-east-1:123456789012:rule/imgtag-failed-jobs" } }
  mock_resource "aws_athena_workgroup" { defaults = { arn = "arn:aws:athena:us-east-1:123456789012:workgroup/imgtag" } }
  mock_resource "aws_ecr_repository" { defaults = { repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/imgtag" } }
  mock_resource "aws_sqs_queue" { defaults = { arn = "arn:aws:sqs:us-east-1:123456789012:imgtag-nightly-dead-letters" } }
  mock_resource "aws_appautoscaling_policy" { defaults = { arn = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:mocked:resource/ecs/service/imgtag-stream/imgtag-listen:policyName/mocked" } }
  mock_resource "aws_ecs_cluster" { defaults = { arn = "arn:aws:ecs:us-east-1:123456789012:cluster/imgtag-stream" } }
  mock_resource "aws_ecs_task_definition" { defaults = { arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/imgtag-listen:1" } }
}

# The stream's queues as AWS names them (the default above is the schedule's dead-letter queue).
override_resource {
  target = aws_sqs_queue.stream[0]
  values = { arn = "arn:aws:sqs:us-east-1:123456789012:imgtag-stream", url = "https://sqs.us-east-1.amazonaws.com/123456789012/imgtag-stream" }
}
override_resource {
  target = aws_sqs_queue.stream_dead_letters[0]
  values = { arn = "arn:aws:sqs:us-east-1:123456789012:imgtag-stream-dead-letters", url = "https://sqs.us-east-1.amazonaws.com/123456789012/imgtag-stream-dead-letters" }
}

# Distinct ARNs per queue and job definition, so that an assertion can tell them apart.
override_resource {
  target = aws_batch_job_queue.queue["tag"]
  values = { arn = "arn:aws:batch:us-east-1:123456789012:job-queue/imgtag" }
}
override_resource {
  target = aws_batch_job_queue.queue["planning"]
  values = { arn = "arn:aws:batch:us-east-1:123456789012:job-queue/imgtag-planning" }
}
override_resource {
  target = aws_batch_job_definition.job["tag"]
  values = { arn = "arn:aws:batch:us-east-1:123456789012:job-definition/imgtag:1", arn_prefix = "arn:aws:batch:us-east-1:123456789012:job-definition/imgtag" }
}
override_resource {
  target = aws_batch_job_definition.job["nightly"]
  values = { arn = "arn:aws:batch:us-east-1:123456789012:job-definition/imgtag-nightly:1", arn_prefix = "arn:aws:batch:us-east-1:123456789012:job-definition/imgtag-nightly" }
}
override_resource {
  target = aws_batch_job_definition.job["compact"]
  values = { arn = "arn:aws:batch:us-east-1:123456789012:job-definition/imgtag-compact:1", arn_prefix = "arn:aws:batch:us-east-1:123456789012:job-definition/imgtag-compact" }
}

# The README's example variables ("3. The variables").
variables {
  region             = "us-east-1"
  input_bucket       = "my-photos"
  results_bucket     = "my-imgtag"
  subnet_ids         = ["subnet-0123456789abcdef0"]
  security_group_ids = ["sg-0123456789abcdef0"]
  vpc_id             = "vpc-0123456789abcdef0"
  route_table_ids    = ["rtb-0123456789abcdef0"]
  nightly_manifest   = "s3://my-inventory/my-photos/all/"
  # README step 4 (every run but the two below, which come before an image exists)
  image_digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
}

# README step 2: the repository alone, before any image exists.
run "step_2_repository_first" {
  variables { image_digest = "" }
  plan_options {
    target = [aws_ecr_repository.imgtag, aws_ecr_lifecycle_policy.imgtag]
  }
  assert {
    condition     = aws_ecr_repository.imgtag.image_tag_mutability == "IMMUTABLE"
    error_message = "the repository is created on its own, immutable"
  }
  assert {
    condition     = output.image_target == "cpu"
    error_message = "the targeted apply writes image_target, which step 3 builds"
  }
}

# Without the targeted step, the job definitions say what to do.
run "no_image_says_what_to_do" {
  command = plan
  variables { image_digest = "" }
  expect_failures = [aws_batch_job_definition.job["tag"], aws_batch_job_definition.job["nightly"], aws_batch_job_definition.job["compact"]]
}

# README step 4: everything, pinned to the pushed digest. The default fleet is CPU.
run "step_4_cpu_fleet" {

  assert {
    condition     = aws_batch_compute_environment.spot["tag"].compute_resources[0].instance_type == toset(var.cpu_instance_types)
    error_message = "the CPU fleet runs on the VNNI CPU types"
  }
  assert {
    condition     = aws_batch_compute_environment.spot["tag"].compute_resources[0].ec2_configuration[0].image_type == "ECS_AL2023"
    error_message = "the CPU fleet uses the plain ECS AMI"
  }
  assert {
    condition     = !contains([for r in jsondecode(aws_batch_job_definition.job["tag"].container_properties).resourceRequirements : r.type], "GPU")
    error_message = "a CPU child asks for no GPU"
  }
  assert {
    condition     = strcontains(join(" ", jsondecode(aws_batch_job_definition.job["tag"].container_properties).command), "--device cpu")
    error_message = "a CPU child runs --device cpu"
  }
  assert {
    condition     = jsondecode(aws_batch_job_definition.job["tag"].container_properties).image == "${aws_ecr_repository.imgtag.repository_url}@${var.image_digest}"
    error_message = "children run the pinned digest"
  }
  assert {
    condition     = output.image_target == "cpu"
    error_message = "the CPU fleet builds the cpu image target"
  }

  # Spot draining on every instance Batch launches, in the MIME multipart form Batch requires.
  assert {
    condition = alltrue([for k in ["tag", "planning"] :
      aws_batch_compute_environment.spot[k].compute_resources[0].launch_template[0].launch_template_id == aws_launch_template.fleet[k].id
    ])
    error_message = "both compute environments launch from the template with the user data"
  }
  assert {
    condition = alltrue([for k in ["tag", "planning"] : (
      startswith(base64decode(aws_launch_template.fleet[k].user_data), "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"==IMGTAG==\"\n") &&
      strcontains(base64decode(aws_launch_template.fleet[k].user_data), "\n--==IMGTAG==\nContent-Type: text/x-shellscript") &&
      strcontains(base64decode(aws_launch_template.fleet[k].user_data), "echo ECS_ENABLE_SPOT_INSTANCE_DRAINING=true >> /etc/ecs/ecs.config") &&
      endswith(base64decode(aws_launch_template.fleet[k].user_data), "--==IMGTAG==--\n")
    )])
    error_message = "the user data turns ECS spot draining on, as MIME multipart"
  }
  assert {
    condition     = aws_launch_template.fleet["planning"].block_device_mappings[0].ebs[0].volume_size == 200 && length(aws_launch_template.fleet["tag"].block_device_mappings) == 0
    error_message = "the planning instances get the large volume, the taggers the AMI's own"
  }

  # The schedule: latest job definition revisions, compaction on the CPU queue, no fixed shards per child.
  assert {
    condition     = jsondecode(aws_scheduler_schedule.nightly[0].target[0].input).JobDefinition == "imgtag-nightly"
    error_message = "the schedule names the nightly job definition without a revision (a name: known at plan)"
  }
  assert {
    condition     = jsondecode(aws_scheduler_schedule.nightly[0].target[0].input).JobQueue == aws_batch_job_queue.queue["planning"].name
    error_message = "the nightly runs on the CPU planning queue"
  }
  assert {
    condition     = !contains(jsondecode(aws_scheduler_schedule.nightly[0].target[0].input).ContainerOverrides.Command, "--shards-per-task")
    error_message = "the nightly leaves shards per child to submit, which makes the array fit"
  }
  assert {
    condition = join(" ", jsondecode(aws_scheduler_schedule.nightly[0].target[0].input).ContainerOverrides.Command) == join(" ", [
      "nightly", "--root", "s3://my-imgtag/imgtag/nightly", "--dataset", "s3://my-imgtag/imgtag/tags/", "--manifest", "s3://my-inventory/my-photos/all/",
      "--glue-table", "imgtag.current",
      "--model", "mobilenetv2-12-int8", "--device", "cpu", "--fleet-threshold", "20000", "--shard-size", "2000",
      "--job-queue", "imgtag", "--job-definition", "imgtag",
      "--compact-job-queue", "imgtag-planning", "--compact-job-definition", "imgtag-compact",
    ])
    error_message = "the nightly's command"
  }
  assert {
    condition     = output.job_definition == aws_batch_job_definition.job["tag"].arn_prefix && output.compact_job_definition == aws_batch_job_definition.job["compact"].arn_prefix
    error_message = "outputs name the latest revisions"
  }

  # Retries: every job kind on exit 3 (unfinished, retry later; a busy previous run is exit 0).
  assert {
    condition = (
      compact([for r in aws_batch_job_definition.job["tag"].retry_strategy[0].evaluate_on_exit : r.on_exit_code]) == tolist(["3"]) &&
      compact([for r in aws_batch_job_definition.job["compact"].retry_strategy[0].evaluate_on_exit : r.on_exit_code]) == tolist(["3"]) &&
      compact([for r in aws_batch_job_definition.job["nightly"].retry_strategy[0].evaluate_on_exit : r.on_exit_code]) == tolist(["3"]) &&
      [for r in aws_batch_job_definition.job["nightly"].retry_strategy[0].evaluate_on_exit : r.action] == ["RETRY", "RETRY", "EXIT"]
    )
    error_message = "retry rules per job kind"
  }

  # A role per job kind.
  assert {
    condition     = jsondecode(aws_batch_job_definition.job["tag"].container_properties).jobRoleArn == aws_iam_role.job["tag"].arn && jsondecode(aws_batch_job_definition.job["compact"].container_properties).jobRoleArn == aws_iam_role.job["compact"].arn && jsondecode(aws_batch_job_definition.job["nightly"].container_properties).jobRoleArn == aws_iam_role.job["nightly"].arn
    error_message = "each job definition runs as its own role"
  }
  assert {
    condition     = alltrue([for k in ["tag", "compact"] : !contains(flatten([for s in jsondecode(aws_iam_role_policy.job[k].policy).Statement : s.Action]), "batch:SubmitJob")])
    error_message = "array children and compaction submit nothing"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_iam_role_policy.job["tag"].policy).Statement :
    s.Effect == "Deny" && contains(s.Action, "s3:DeleteObject") && contains(s.Resource, "arn:aws:s3:::my-imgtag/imgtag/nightly/current/*") && contains(s.Resource, "arn:aws:s3:::my-imgtag/imgtag/tags/*")])
    error_message = "array children may not write or delete the current table or the dataset"
  }
  assert {
    condition     = alltrue([for k in ["nightly", "compact"] : contains(flatten([for s in jsondecode(aws_iam_role_policy.job[k].policy).Statement : s.Resource if contains(s.Action, "glue:UpdateTable")]), "arn:aws:glue:us-east-1:123456789012:table/imgtag/current")]) && !contains(flatten([for s in jsondecode(aws_iam_role_policy.job["tag"].policy).Statement : s.Action]), "glue:UpdateTable")
    error_message = "the jobs that switch the current table may move its Glue table, and only those"
  }
  assert {
    condition     = !contains(flatten([for s in jsondecode(aws_iam_role_policy.job["compact"].policy).Statement : s.Resource]), "arn:aws:s3:::my-photos/*")
    error_message = "compaction reads no image"
  }
  assert {
    condition     = contains(flatten([for s in jsondecode(aws_iam_role_policy.job["nightly"].policy).Statement : s.Resource if contains(s.Action, "batch:SubmitJob")]), aws_batch_job_queue.queue["tag"].arn)
    error_message = "the nightly may submit to the tagging queue"
  }
  assert {
    condition = alltrue([for r in [aws_iam_role.job["tag"], aws_iam_role.job["nightly"], aws_iam_role.job["compact"], aws_iam_role.execution, aws_iam_role.scheduler] :
    jsondecode(r.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "123456789012"])
    error_message = "trust policies name this account"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.scheduler.policy).Statement[0].Resource == [aws_batch_job_queue.queue["planning"].arn, aws_batch_job_definition.job["nightly"].arn_prefix, "${aws_batch_job_definition.job["nightly"].arn_prefix}:*"]
    error_message = "the scheduler submits the nightly and nothing else"
  }

  # The operator's laptop: plan, submit and watch, write only runs.
  assert {
    condition     = contains(flatten([for s in jsondecode(aws_iam_policy.operator.policy).Statement : s.Action if s.Sid == "SubmitJobs"]), "batch:SubmitJob") && contains(flatten([for s in jsondecode(aws_iam_policy.operator.policy).Statement : s.Action]), "batch:DescribeJobs")
    error_message = "operators may submit and watch"
  }
  assert {
    condition     = flatten([for s in jsondecode(aws_iam_policy.operator.policy).Statement : s.Resource if contains(s.Action, "s3:PutObject")]) == ["arn:aws:s3:::my-imgtag/imgtag/*"]
    error_message = "operators write only under the run prefix"
  }

  # The Inventory folder: read under it, list only it.
  assert {
    condition = output.nightly_manifest_grants == [for s in jsondecode(aws_iam_role_policy.job["nightly"].policy).Statement : s if startswith(s.Sid, "ReadInventory") || startswith(s.Sid, "ListInventory")] && output.nightly_manifest_grants == [
      { Sid = "ReadInventory", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::my-inventory/my-photos/all/*"] },
      { Sid = "ListInventory", Effect = "Allow", Action = ["s3:ListBucket"], Resource = ["arn:aws:s3:::my-inventory"], Condition = { StringLike = { "s3:prefix" = ["my-photos/all/*"] } } },
    ]
    error_message = "the Inventory grants"
  }

  # Athena users: GetBucketLocation without a prefix condition; both tables readable.
  assert {
    condition = [for s in jsondecode(aws_iam_policy.query.policy).Statement : s if contains(s.Action, "s3:GetBucketLocation")] == [
      { Sid = "BucketLocation", Effect = "Allow", Action = ["s3:GetBucketLocation"], Resource = ["arn:aws:s3:::my-imgtag"] },
    ]
    error_message = "GetBucketLocation is allowed on its own, with no s3:prefix condition"
  }
  assert {
    condition     = aws_glue_catalog_table.table["tags"].parameters["storage.location.template"] == "s3://my-imgtag/imgtag/tags/run_date=$${run_date}/" && aws_glue_catalog_table.table["tags"].partition_keys[0].name == "run_date"
    error_message = "the dataset table projects run_date partitions where compaction writes them"
  }
  assert {
    condition     = aws_glue_catalog_table.table["current"].storage_descriptor[0].location == "s3://my-imgtag/imgtag/nightly/current/"
    error_message = "the current table is in the catalog too"
  }
  assert {
    condition     = !anytrue([for s in jsondecode(aws_iam_policy.query.policy).Statement : startswith(s.Sid, "ResultsKey")])
    error_message = "no KMS grant without a key"
  }

  # Failed jobs of both queues page; array children do not page one by one.
  assert {
    condition     = toset(jsondecode(aws_cloudwatch_event_rule.job_events["failed_jobs"].event_pattern).detail.jobQueue) == toset([aws_batch_job_queue.queue["tag"].arn, aws_batch_job_queue.queue["planning"].arn])
    error_message = "the alarm watches both queues"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.job_events["failed_jobs"].event_pattern).detail.arrayProperties.index == [{ exists = false }]
    error_message = "array children are left out of the alarm"
  }
}

# What the first week needs besides: networking, IMDS, stopping and submitting by hand, alarms.
run "step_4_operations" {
  # The S3 gateway endpoint on the subnets' route tables (images and image layers skip the NAT); no
  # interface endpoint where the subnets have a NAT.
  assert {
    condition = (
      aws_vpc_endpoint.s3["s3"].vpc_endpoint_type == "Gateway" && aws_vpc_endpoint.s3["s3"].service_name == "com.amazonaws.us-east-1.s3" &&
      aws_vpc_endpoint.s3["s3"].vpc_id == var.vpc_id && aws_vpc_endpoint.s3["s3"].route_table_ids == toset(var.route_table_ids) &&
      length(aws_vpc_endpoint.interface) == 0 && length(aws_security_group.endpoints) == 0
    )
    error_message = "an S3 gateway endpoint on the route tables, no interface endpoint behind a NAT"
  }
  assert {
    condition = alltrue([for k in ["tag", "planning"] : (
      aws_launch_template.fleet[k].metadata_options[0].http_tokens == "required" &&
      aws_launch_template.fleet[k].metadata_options[0].http_put_response_hop_limit == 1 &&
      aws_launch_template.fleet[k].metadata_options[0].http_endpoint == "enabled"
    )])
    error_message = "IMDSv2 only, hop limit 1"
  }
  assert {
    condition     = alltrue([for k in ["tag", "planning"] : strcontains(base64decode(aws_launch_template.fleet[k].user_data), "iptables --insert OUTPUT --destination 169.254.169.254/32 --match owner --uid-owner 10001 --jump REJECT")])
    error_message = "the metadata service is refused to the image's user: Batch's EC2 jobs share the host's network, where a hop limit stops nothing"
  }
  assert {
    condition = alltrue([for k in ["tag", "planning"] :
      [for a in aws_batch_job_queue.queue[k].job_state_time_limit_action : "${a.state} ${a.reason} ${a.max_time_seconds} ${a.action}"] == [
        "RUNNABLE CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY 7200 CANCEL",
        "RUNNABLE MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE 7200 CANCEL",
        "RUNNABLE MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT 7200 CANCEL",
      ]
    ])
    error_message = "a job blocked at the head of a queue is cancelled after runnable_timeout_seconds, so it fails and pages"
  }
  assert {
    condition     = aws_athena_workgroup.imgtag.force_destroy
    error_message = "the workgroup can be destroyed after queries"
  }

  # Operators stop a runaway job, run the nightly now, read the schedule; the nightly follows its fleet runs.
  assert {
    condition = [for s in jsondecode(aws_iam_policy.operator.policy).Statement : s if s.Sid == "StopJobs"] == [
      { Sid = "StopJobs", Effect = "Allow", Action = ["batch:TerminateJob", "batch:CancelJob"], Resource = ["arn:aws:batch:us-east-1:123456789012:job/*"] },
    ]
    error_message = "operators may terminate and cancel this account's jobs in the region"
  }
  assert {
    condition = (
      [for s in jsondecode(aws_iam_policy.operator.policy).Statement : s.Resource if s.Sid == "SubmitNightly"] == [jsondecode(aws_iam_role_policy.scheduler.policy).Statement[0].Resource] &&
      [for s in jsondecode(aws_iam_policy.operator.policy).Statement : s.Resource if s.Sid == "ReadSchedule"] == [["arn:aws:scheduler:us-east-1:123456789012:schedule/imgtag/imgtag-nightly"]]
    )
    error_message = "operators may submit the nightly as the schedule does, and read the schedule"
  }
  assert {
    condition     = contains([for s in jsondecode(aws_iam_role_policy.job["nightly"].policy).Statement : "${join(",", s.Action)} ${join(",", s.Resource)}"], "batch:DescribeJobs *")
    error_message = "the nightly may describe the jobs it submitted"
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.scheduler.policy).Statement : s if s.Sid == "DeadLetters"] == [
      { Sid = "DeadLetters", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [aws_sqs_queue.schedule_dead_letters[0].arn] },
    ]
    error_message = "the scheduler may write its dead letters, nothing else of SQS"
  }

  # The nightly by hand is the scheduled one: the same request, in the AWS CLI's member names.
  assert {
    condition = jsondecode(output.nightly_submit_job) == {
      jobName            = jsondecode(aws_scheduler_schedule.nightly[0].target[0].input).JobName
      jobQueue           = jsondecode(aws_scheduler_schedule.nightly[0].target[0].input).JobQueue
      jobDefinition      = jsondecode(aws_scheduler_schedule.nightly[0].target[0].input).JobDefinition
      containerOverrides = { command = jsondecode(aws_scheduler_schedule.nightly[0].target[0].input).ContainerOverrides.Command }
    }
    error_message = "nightly_submit_job is the schedule's SubmitJob request"
  }

  # Alarms: a blocked queue, a schedule that could not submit.
  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.job_events["blocked_queues"].event_pattern) == {
      source = ["aws.batch"], "detail-type" = ["Batch Job Queue Blocked"]
      detail = { jobQueue = [aws_batch_job_queue.queue["planning"].arn, aws_batch_job_queue.queue["tag"].arn] }
    } && aws_cloudwatch_event_target.job_events["blocked_queues"].arn == aws_sns_topic.alarm.arn
    error_message = "a blocked queue pages"
  }
  assert {
    condition = alltrue([for m in ["TargetErrorCount", "InvocationDroppedCount"] : (
      aws_cloudwatch_metric_alarm.schedule[m].namespace == "AWS/Scheduler" && aws_cloudwatch_metric_alarm.schedule[m].metric_name == m &&
      aws_cloudwatch_metric_alarm.schedule[m].dimensions == tomap({ ScheduleGroup = aws_scheduler_schedule.nightly[0].group_name }) &&
      aws_cloudwatch_metric_alarm.schedule[m].alarm_actions == toset([aws_sns_topic.alarm.arn]) &&
      startswith(aws_cloudwatch_metric_alarm.schedule[m].alarm_name, "imgtag-")
    )]) && aws_scheduler_schedule.nightly[0].group_name == "imgtag"
    error_message = "Scheduler's target errors and dropped invocations of the nightly's own group page"
  }
  assert {
    condition     = aws_scheduler_schedule.nightly[0].target[0].dead_letter_config[0].arn == aws_sqs_queue.schedule_dead_letters[0].arn
    error_message = "a submission Scheduler gives up on is kept in the dead-letter queue"
  }
  assert {
    condition = [for s in jsondecode(aws_sns_topic_policy.alarm.policy).Statement : s.Condition] == [
      { ArnEquals = { "aws:SourceArn" = [aws_cloudwatch_event_rule.job_events["blocked_queues"].arn, aws_cloudwatch_event_rule.job_events["failed_jobs"].arn] } },
      { ArnLike = { "aws:SourceArn" = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:imgtag-*" }, StringEquals = { "aws:SourceAccount" = "123456789012" } },
    ]
    error_message = "only this module's rules and alarms publish to the topic"
  }
}

# Subnets without a NAT: every interface endpoint Batch on ECS and the jobs need, private DNS on,
# 443 from the fleet's security groups; what the VPC already has is not created twice.
run "endpoint_only_subnets" {
  variables {
    subnet_egress          = "endpoints"
    security_group_ids     = ["sg-0123456789abcdef0", "sg-0fedcba9876543210"]
    existing_vpc_endpoints = ["sts"]
  }
  assert {
    condition = keys(aws_vpc_endpoint.interface) == ["batch", "ecr.api", "ecr.dkr", "ecs", "ecs-agent", "ecs-telemetry", "glue", "logs"] && alltrue([for k, e in aws_vpc_endpoint.interface : (
      e.service_name == "com.amazonaws.us-east-1.${k}" && e.vpc_endpoint_type == "Interface" && e.private_dns_enabled &&
      e.subnet_ids == toset(var.subnet_ids) && e.security_group_ids == toset([aws_security_group.endpoints[0].id])
    )]) && length(aws_vpc_endpoint.s3) == 1
    error_message = "the interface endpoints, less the VPC's own (sts), and the S3 gateway"
  }
  assert {
    condition = toset([for r in aws_vpc_security_group_ingress_rule.endpoints : "${r.ip_protocol} ${r.from_port}-${r.to_port} ${r.referenced_security_group_id}"]) == toset([
      "tcp 443-443 sg-0123456789abcdef0", "tcp 443-443 sg-0fedcba9876543210",
    ]) && aws_security_group.endpoints[0].vpc_id == var.vpc_id
    error_message = "the endpoints answer HTTPS from the fleet's security groups"
  }
}

run "vpc_has_an_s3_endpoint" {
  variables {
    route_table_ids        = []
    existing_vpc_endpoints = ["s3"]
  }
  assert {
    condition     = length(aws_vpc_endpoint.s3) == 0
    error_message = "no second S3 gateway endpoint on the VPC's route tables"
  }
}

run "unknown_existing_endpoint" {
  command = plan
  variables {
    existing_vpc_endpoints = ["s3", "kinesis-streams"]
  }
  expect_failures = [var.existing_vpc_endpoints]
}

run "s3_endpoint_needs_route_tables" {
  command = plan
  variables {
    route_table_ids = []
  }
  expect_failures = [aws_vpc_endpoint.s3]
}

run "no_nightly" {
  variables {
    nightly_manifest = ""
  }
  assert {
    condition = (
      length(aws_scheduler_schedule.nightly) == 0 && length(aws_cloudwatch_metric_alarm.schedule) == 0 && length(aws_sqs_queue.schedule_dead_letters) == 0 &&
      output.nightly_submit_job == "" && !contains([for s in jsondecode(aws_iam_policy.operator.policy).Statement : s.Sid], "ReadSchedule")
    )
    error_message = "no schedule, nothing of it"
  }
}

run "gpu_fleet" {
  variables {
    tagging_fleet = "gpu"
  }
  assert {
    condition     = aws_batch_compute_environment.spot["tag"].compute_resources[0].ec2_configuration[0].image_type == "ECS_AL2023_NVIDIA"
    error_message = "the GPU fleet uses the NVIDIA ECS AMI"
  }
  assert {
    condition     = contains([for r in jsondecode(aws_batch_job_definition.job["tag"].container_properties).resourceRequirements : "${r.type}=${r.value}"], "GPU=1")
    error_message = "a GPU child asks for one GPU"
  }
  assert {
    condition     = strcontains(join(" ", jsondecode(aws_batch_job_definition.job["tag"].container_properties).command), "--device cuda")
    error_message = "a GPU child runs --device cuda"
  }
  assert {
    condition     = aws_batch_compute_environment.spot["planning"].compute_resources[0].ec2_configuration[0].image_type == "ECS_AL2023"
    error_message = "planning and compaction stay on CPU"
  }
  assert {
    condition     = output.image_target == "gpu"
    error_message = "the GPU fleet builds the gpu image target"
  }
}

run "kms_everywhere" {
  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }
  assert {
    condition = [for s in jsondecode(aws_iam_policy.query.policy).Statement : s if startswith(s.Sid, "ResultsKey")] == [
      { Sid = "ResultsKey", Effect = "Allow", Action = ["kms:Decrypt", "kms:GenerateDataKey"], Resource = [var.kms_key_arn] },
    ]
    error_message = "Athena users may read and write under the results key"
  }
  assert {
    condition     = alltrue([for k in ["tag", "nightly", "compact"] : contains(flatten([for s in jsondecode(aws_iam_role_policy.job[k].policy).Statement : s.Resource if s.Effect == "Allow"]), var.kms_key_arn)])
    error_message = "every job may use the results key"
  }
}

# Each form of nightly_manifest, and the one grant it gives (the step_4 run checks the role gets the output's statements).
run "key_list_at_bucket_root" {
  variables { nightly_manifest = "s3://lists/keys.txt" }
  assert {
    condition     = output.nightly_manifest_grants == [{ Sid = "ReadKeyList", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::lists/keys.txt"] }]
    error_message = "a key list grants that one object (not arn:aws:s3:::./*)"
  }
}

run "key_list_in_a_folder" {
  variables { nightly_manifest = "s3://lists/daily/keys.txt" }
  assert {
    condition     = output.nightly_manifest_grants == [{ Sid = "ReadKeyList", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::lists/daily/keys.txt"] }]
    error_message = "a key list in a folder grants that one object, never its bucket"
  }
}

run "dated_inventory_manifest" {
  variables { nightly_manifest = "s3://my-inventory/my-photos/all/2026-11-22T01-00Z/manifest.json" }
  assert {
    condition     = output.nightly_manifest_grants == [{ Sid = "ReadInventory", Effect = "Allow", Action = ["s3:GetObject"], Resource = ["arn:aws:s3:::my-inventory/my-photos/all/*"] }]
    error_message = "a dated manifest.json grants its configuration's folder (data/ is there), no listing"
  }
}

run "manifest_not_where_inventory_writes_it" {
  command = plan
  variables {
    nightly_manifest = "s3://lists/manifest.json"
  }
  expect_failures = [var.nightly_manifest]
}

run "other_partition" {
  override_data {
    target = data.aws_partition.current
    values = { partition = "aws-us-gov" }
  }
  variables {
    region = "us-gov-west-1"
  }
  assert {
    condition = alltrue([for arn in flatten(concat(
      [for k in ["tag", "nightly", "compact"] : [for s in jsondecode(aws_iam_role_policy.job[k].policy).Statement : s.Resource if startswith(s.Sid, "Read") || startswith(s.Sid, "List")]],
      [aws_iam_role_policy_attachment.execution.policy_arn, aws_iam_role_policy_attachment.instance.policy_arn, aws_scheduler_schedule.nightly[0].target[0].arn],
      [for s in jsondecode(aws_iam_policy.query.policy).Statement : s.Resource if startswith(s.Sid, "Read")],
    )) : startswith(arn, "arn:aws-us-gov:")])
    error_message = "every ARN the module builds is in the partition it runs in"
  }
}

# The default deployment has no stream: no queue, no service, no SQS endpoint, nothing for operators.
run "no_stream_by_default" {
  variables {
    subnet_egress = "endpoints"
  }
  assert {
    condition = (
      length(aws_sqs_queue.stream) == 0 && length(aws_s3_bucket_notification.stream) == 0 && length(aws_cloudwatch_event_rule.stream) == 0 &&
      length(aws_ecs_service.stream) == 0 && length(aws_iam_role.stream) == 0 && length(aws_appautoscaling_policy.stream) == 0 &&
      length(aws_cloudwatch_metric_alarm.stream) == 0 && !contains(keys(aws_vpc_endpoint.interface), "sqs") &&
      !anytrue([for s in jsondecode(aws_iam_policy.operator.policy).Statement : strcontains(s.Sid, "Stream")]) &&
      output.stream_queue_url == null && output.stream_service == null
    )
    error_message = "stream = false creates nothing of the stream"
  }
}

# README "Fresh within a minute": the queue and its dead letters, S3's notification, the consumer on
# Fargate scaled from zero by the queue's depth, its role, the pages; subnets without a NAT.
run "stream" {
  variables {
    stream        = true
    input_prefix  = "uploads/"
    subnet_egress = "endpoints"
  }
  # The queue: encrypted, redrive to the dead-letter queue after 5 receives, 4 days' retention; 14 in the DLQ.
  assert {
    condition = (
      aws_sqs_queue.stream[0].sqs_managed_sse_enabled && aws_sqs_queue.stream_dead_letters[0].sqs_managed_sse_enabled &&
      jsondecode(aws_sqs_queue.stream[0].redrive_policy) == { deadLetterTargetArn = aws_sqs_queue.stream_dead_letters[0].arn, maxReceiveCount = 5 } &&
      aws_sqs_queue.stream[0].message_retention_seconds == 345600 && aws_sqs_queue.stream_dead_letters[0].message_retention_seconds == 1209600 &&
      aws_sqs_queue.stream[0].visibility_timeout_seconds == 300 &&
      jsondecode(aws_sqs_queue_redrive_allow_policy.stream[0].redrive_allow_policy).sourceQueueArns == [aws_sqs_queue.stream[0].arn]
    )
    error_message = "the queue, its redrive policy and the dead-letter queue"
  }
  # Only S3, for the input bucket of this account, may send.
  assert {
    condition = jsondecode(aws_sqs_queue_policy.stream[0].policy).Statement == [{
      Sid       = "BucketNotifications", Effect = "Allow", Principal = { Service = "s3.amazonaws.com" }, Action = "sqs:SendMessage", Resource = aws_sqs_queue.stream[0].arn
      Condition = { ArnEquals = { "aws:SourceArn" = "arn:aws:s3:::my-photos" }, StringEquals = { "aws:SourceAccount" = "123456789012" } }
    }] && aws_sqs_queue_policy.stream[0].queue_url == aws_sqs_queue.stream[0].url
    error_message = "the queue policy admits S3 for the input bucket and this account only"
  }
  assert {
    condition = (
      aws_s3_bucket_notification.stream[0].bucket == "my-photos" && length(aws_s3_bucket_notification.stream[0].queue) == 1 &&
      aws_s3_bucket_notification.stream[0].queue[0].queue_arn == aws_sqs_queue.stream[0].arn &&
      aws_s3_bucket_notification.stream[0].queue[0].events == toset(["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]) &&
      aws_s3_bucket_notification.stream[0].queue[0].filter_prefix == "uploads/" && length(aws_cloudwatch_event_rule.stream) == 0
    )
    error_message = "the bucket notifies the queue of objects created and removed under input_prefix"
  }
  # The consumer: Fargate x86_64, private, the pinned image, listen with the queue URLs.
  assert {
    condition = (
      aws_ecs_service.stream[0].launch_type == "FARGATE" && aws_ecs_service.stream[0].network_configuration[0].assign_public_ip == false &&
      aws_ecs_service.stream[0].network_configuration[0].subnets == toset(var.subnet_ids) &&
      aws_ecs_service.stream[0].network_configuration[0].security_groups == toset(var.security_group_ids) &&
      aws_ecs_task_definition.stream[0].runtime_platform[0].cpu_architecture == "X86_64" &&
      aws_ecs_task_definition.stream[0].requires_compatibilities == toset(["FARGATE"]) && aws_ecs_task_definition.stream[0].network_mode == "awsvpc" &&
      aws_ecs_task_definition.stream[0].cpu == "2048" && aws_ecs_task_definition.stream[0].memory == "4096" &&
      aws_ecs_task_definition.stream[0].task_role_arn == aws_iam_role.stream[0].arn && aws_ecs_task_definition.stream[0].execution_role_arn == aws_iam_role.execution.arn
    )
    error_message = "listen runs on Fargate x86_64 in the fleet's subnets, no public IP, as its own role"
  }
  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.stream[0].container_definitions)[0].image == "${aws_ecr_repository.imgtag.repository_url}@${var.image_digest}" &&
      join(" ", jsondecode(aws_ecs_task_definition.stream[0].container_definitions)[0].command) == join(" ", [
        "listen", "--root", "s3://my-imgtag/imgtag/nightly", "--dataset", "s3://my-imgtag/imgtag/tags/",
        "--queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/imgtag-stream",
        "--dead-letter-queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/imgtag-stream-dead-letters",
        "--model", "mobilenetv2-12-int8", "--device", "cpu", "--batch-size", "100", "--batch-seconds", "10",
      ]) &&
      jsondecode(aws_ecs_task_definition.stream[0].container_definitions)[0].logConfiguration.options["awslogs-group"] == aws_cloudwatch_log_group.imgtag.name
    )
    error_message = "listen's command, image and logs"
  }
  # Scaling: 0 to 4 tasks on the queue's depth; out from 0 on any waiting message, in to 0 when empty.
  assert {
    condition = (
      aws_appautoscaling_target.stream[0].min_capacity == 0 && aws_appautoscaling_target.stream[0].max_capacity == 4 &&
      aws_appautoscaling_target.stream[0].scalable_dimension == "ecs:service:DesiredCount" &&
      aws_appautoscaling_target.stream[0].resource_id == "service/imgtag-stream/imgtag-listen" &&
      alltrue([for k, p in aws_appautoscaling_policy.stream : p.policy_type == "StepScaling" && p.resource_id == aws_appautoscaling_target.stream[0].resource_id])
    )
    error_message = "the service scales 0 to stream_max_tasks"
  }
  assert {
    condition = (
      [for s in aws_appautoscaling_policy.stream["wake"].step_scaling_policy_configuration[0].step_adjustment : s.scaling_adjustment] == [1] &&
      aws_appautoscaling_policy.stream["wake"].step_scaling_policy_configuration[0].adjustment_type == "ExactCapacity" &&
      aws_cloudwatch_metric_alarm.stream_scaling["wake"].threshold == 1 && aws_cloudwatch_metric_alarm.stream_scaling["wake"].evaluation_periods == 1 &&
      aws_cloudwatch_metric_alarm.stream_scaling["wake"].alarm_actions == toset([aws_appautoscaling_policy.stream["wake"].arn]) &&
      [for q in aws_cloudwatch_metric_alarm.stream_scaling["wake"].metric_query : q.expression if q.return_data == true] == ["visible - 1000000 * inflight"] &&
      [for s in aws_appautoscaling_policy.stream["idle"].step_scaling_policy_configuration[0].step_adjustment : s.scaling_adjustment] == [0] &&
      aws_appautoscaling_policy.stream["idle"].step_scaling_policy_configuration[0].adjustment_type == "ExactCapacity" &&
      aws_cloudwatch_metric_alarm.stream_scaling["idle"].comparison_operator == "LessThanOrEqualToThreshold" &&
      aws_cloudwatch_metric_alarm.stream_scaling["idle"].evaluation_periods == 15 && aws_cloudwatch_metric_alarm.stream_scaling["idle"].treat_missing_data == "breaching" &&
      toset([for s in aws_appautoscaling_policy.stream["backlog"].step_scaling_policy_configuration[0].step_adjustment : s.scaling_adjustment]) == toset([1, 2]) &&
      alltrue(flatten([for a in aws_cloudwatch_metric_alarm.stream_scaling : [for q in a.metric_query : q.metric[0].dimensions.QueueName == "imgtag-stream" if length(q.metric) > 0]]))
    )
    error_message = "out from zero when a message waits and none is in flight, more on a backlog, in to zero after 15 empty minutes"
  }
  # Its role: the images under the prefix, writes only under <nightly_root>/stream/, the queue's messages.
  assert {
    condition = (
      flatten([for s in jsondecode(aws_iam_role_policy.stream[0].policy).Statement : s.Resource if contains(s.Action, "s3:PutObject") || contains(s.Action, "s3:DeleteObject")]) == ["arn:aws:s3:::my-imgtag/imgtag/nightly/stream/*"] &&
      flatten([for s in jsondecode(aws_iam_role_policy.stream[0].policy).Statement : s.Resource if contains(s.Action, "s3:GetObject")]) == ["arn:aws:s3:::my-photos/uploads/*", "arn:aws:s3:::my-imgtag/imgtag/nightly/current.json", "arn:aws:s3:::my-imgtag/imgtag/nightly/stream/*"] &&
      [for s in jsondecode(aws_iam_role_policy.stream[0].policy).Statement : s.Condition["StringLike"]["s3:prefix"] if contains(s.Action, "s3:ListBucket")] == [["uploads/*"], ["imgtag/nightly/stream/*"]]
    )
    error_message = "listen reads the images it tags and current.json, and writes only the stream's prefix"
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.stream[0].policy).Statement : "${join(",", s.Action)} ${join(",", s.Resource)}" if startswith(s.Action[0], "sqs:")] == [
      "sqs:ReceiveMessage,sqs:DeleteMessage,sqs:ChangeMessageVisibility,sqs:GetQueueAttributes arn:aws:sqs:us-east-1:123456789012:imgtag-stream",
      "sqs:SendMessage arn:aws:sqs:us-east-1:123456789012:imgtag-stream-dead-letters",
    ] && jsondecode(aws_iam_role.stream[0].assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "123456789012"
    error_message = "listen consumes the queue and sends only to its dead-letter queue"
  }
  assert {
    condition = (
      contains(flatten([for s in jsondecode(aws_iam_policy.operator.policy).Statement : s.Action if s.Sid == "RedriveStream"]), "sqs:StartMessageMoveTask") &&
      contains(flatten([for s in jsondecode(aws_iam_policy.operator.policy).Statement : s.Action if s.Sid == "WatchStream"]), "sqs:GetQueueAttributes")
    )
    error_message = "operators watch the queues and redrive the dead letters"
  }
  # Pages: dead letters, and a message waiting longer than 900 s.
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.stream["dead-letters"].dimensions == tomap({ QueueName = "imgtag-stream-dead-letters" }) &&
      aws_cloudwatch_metric_alarm.stream["dead-letters"].metric_name == "ApproximateNumberOfMessagesVisible" &&
      aws_cloudwatch_metric_alarm.stream["dead-letters"].threshold == 0 && aws_cloudwatch_metric_alarm.stream["dead-letters"].comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.stream["oldest-message"].dimensions == tomap({ QueueName = "imgtag-stream" }) &&
      aws_cloudwatch_metric_alarm.stream["oldest-message"].metric_name == "ApproximateAgeOfOldestMessage" &&
      aws_cloudwatch_metric_alarm.stream["oldest-message"].threshold == 900 &&
      alltrue([for a in aws_cloudwatch_metric_alarm.stream : a.alarm_actions == toset([aws_sns_topic.alarm.arn]) && startswith(a.alarm_name, "imgtag-")])
    )
    error_message = "the dead-letter queue and the oldest message's age page the alarm topic"
  }
  assert {
    condition     = contains(keys(aws_vpc_endpoint.interface), "sqs") && aws_vpc_endpoint.interface["sqs"].service_name == "com.amazonaws.us-east-1.sqs"
    error_message = "subnets without a NAT get the SQS endpoint with the stream"
  }
  assert {
    condition     = output.stream_queue_url == aws_sqs_queue.stream[0].url && output.stream_service == { cluster = "imgtag-stream", name = "imgtag-listen" } && output.stream_dead_letter_queue_url == aws_sqs_queue.stream_dead_letters[0].url
    error_message = "the outputs name the queues and the service"
  }
}

# A bucket that already has notifications: the bucket's EventBridge events instead, the module leaves
# the bucket's notification configuration alone.
run "stream_from_eventbridge" {
  variables {
    stream        = true
    stream_source = "eventbridge"
  }
  assert {
    condition = (
      length(aws_s3_bucket_notification.stream) == 0 &&
      jsondecode(aws_cloudwatch_event_rule.stream[0].event_pattern) == { source = ["aws.s3"], "detail-type" = ["Object Created", "Object Deleted"], detail = { bucket = { name = ["my-photos"] } } } &&
      aws_cloudwatch_event_target.stream[0].arn == aws_sqs_queue.stream[0].arn &&
      jsondecode(aws_sqs_queue_policy.stream[0].policy).Statement == [{
        Sid       = "BucketEvents", Effect = "Allow", Principal = { Service = "events.amazonaws.com" }, Action = "sqs:SendMessage", Resource = aws_sqs_queue.stream[0].arn
        Condition = { ArnEquals = { "aws:SourceArn" = "arn:aws:events:us-east-1:123456789012:rule/imgtag-stream" } }
      }]
    )
    error_message = "an EventBridge rule on the bucket's events feeds the queue, and only it may send"
  }
}

run "stream_min_above_max" {
  command = plan
  variables {
    stream           = true
    stream_min_tasks = 2
    stream_max_tasks = 1
  }
  expect_failures = [var.stream_max_tasks]
}
