variable "name" {
  description = "Prefix for every resource name."
  type        = string
  default     = "imgtag"
}

variable "region" {
  description = "AWS region of the fleet and the buckets."
  type        = string
}

variable "input_bucket" {
  description = "Bucket holding the images (read only)."
  type        = string
}

variable "input_prefix" {
  description = "Only objects under this prefix may be read (empty: the whole bucket)."
  type        = string
  default     = ""
}

variable "create_results_bucket" {
  description = "Create the results bucket; false to use results_bucket as it is."
  type        = bool
  default     = true
}

variable "results_bucket" {
  description = "Bucket for run directories (plans, results, commits, reports)."
  type        = string
}

variable "run_prefix" {
  description = "Jobs may write only under this prefix of the results bucket."
  type        = string
  default     = "imgtag/"
}

variable "subnet_ids" {
  description = "Private subnets of vpc_id for the instances (tagging and planning), one per Availability Zone when subnet_egress = \"endpoints\" (an interface endpoint takes one subnet per zone)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the instances: egress on 443 to S3 (its prefix list), and to the NAT or, with subnet_egress = \"endpoints\", the VPC's interface endpoints (the module's endpoint security group admits 443 from these groups)."
  type        = list(string)
}

# Networking: the instances pull the image (ECR, whose layers are in S3), read every image from S3,
# register with ECS and write logs. The module acts on how subnet_ids reach AWS (network.tf).
variable "vpc_id" {
  description = "VPC of subnet_ids: the module puts its VPC endpoints (S3 gateway; with subnet_egress = \"endpoints\", the interface endpoints) and their security group there."
  type        = string
  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC id (vpc-...), the VPC of subnet_ids."
  }
}

variable "route_table_ids" {
  description = "Route tables of subnet_ids: the module's S3 gateway endpoint is added to them, so images and ECR's image layers reach S3 without a NAT (no NAT charge per GB). Empty only when existing_vpc_endpoints has \"s3\"."
  type        = list(string)
}

variable "subnet_egress" {
  description = "How subnet_ids reach AWS APIs other than S3: \"nat\" (a NAT gateway: the module adds only the S3 gateway endpoint) or \"endpoints\" (no NAT: the module adds the interface endpoints Batch on ECS and the jobs need: ecs, ecs-agent, ecs-telemetry, ecr.api, ecr.dkr, logs, sts, glue, batch, and sqs with stream = true; ~$0.01 an hour each per zone)."
  type        = string
  default     = "nat"
  validation {
    condition     = contains(["nat", "endpoints"], var.subnet_egress)
    error_message = "subnet_egress must be \"nat\" (the subnets have a NAT gateway) or \"endpoints\" (no NAT: the module adds interface endpoints)."
  }
}

variable "existing_vpc_endpoints" {
  description = "Services the VPC already has endpoints for (\"s3\" on route_table_ids; interface ones with private DNS, e.g. \"ecs\", \"logs\"): the module creates no second one (AWS refuses a second S3 gateway endpoint on a route table and a second private DNS name for a service)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for s in var.existing_vpc_endpoints : contains(concat(["s3"], local.endpoint_services), s)])
    error_message = "existing_vpc_endpoints names services the module would create: s3 or an interface endpoint's service (network.tf, local.endpoint_services)."
  }
}

variable "tagging_fleet" {
  description = "What tags: \"cpu\" (spot c7i/c6i with AVX-512 VNNI: cheapest per image for MobileNet-class int8 models, see README) or \"gpu\" (spot g5/g6/g4dn: for heavy fp32/fp16 models). The instance types, AMI, job resources, --device and the image target follow."
  type        = string
  default     = "cpu"
  validation {
    condition     = contains(["cpu", "gpu"], var.tagging_fleet)
    error_message = "tagging_fleet must be \"cpu\" or \"gpu\"."
  }
}

variable "instance_types" {
  description = "GPU instance types the spot fleet may use when tagging_fleet = \"gpu\"; more types, more spot capacity."
  type        = list(string)
  default     = ["g5.xlarge", "g6.xlarge", "g4dn.xlarge", "g5.2xlarge", "g6.2xlarge"]
}

variable "cpu_instance_types" {
  description = "CPU instance types the spot fleet may use when tagging_fleet = \"cpu\": ones with AVX-512 VNNI (int8 inference is several times faster with it)."
  type        = list(string)
  default     = ["c7i.xlarge", "c7i.2xlarge", "c6i.xlarge", "c6i.2xlarge", "m7i.xlarge"]
}

variable "max_vcpus" {
  description = "Upper bound of the tagging compute environment: how big the fleet may grow (400 = 100 xlarge instances)."
  type        = number
  default     = 256
}

variable "job_vcpus" {
  description = "vCPUs per array child (decode, and on the CPU fleet inference, runs on them)."
  type        = number
  default     = 4
}

variable "job_memory_mib" {
  description = "Memory per array child; 0: 14000 on the GPU fleet, 7168 on the CPU fleet (an xlarge's 8 GiB less what ECS keeps)."
  type        = number
  default     = 0
}

variable "job_workers" {
  description = "imgtag worker processes per array child."
  type        = number
  default     = 2
}

variable "job_attempts" {
  description = "Attempts of every job (array child, nightly, compact): a spot reclaim (the host terminated), a failed image pull and exit 3 (unfinished, retry later) take another."
  type        = number
  default     = 5
}

variable "job_timeout_seconds" {
  description = "Upper bound for one attempt of one array child."
  type        = number
  default     = 21600
}

variable "image_tag" {
  description = "Tag of the imgtag container image in the ECR repository (immutable: push each build under a new tag, e.g. the git commit)."
  type        = string
  default     = ""
}

variable "image_digest" {
  description = "Pin the image by digest (sha256:...), which wins over image_tag: every attempt of every child runs the same bytes."
  type        = string
  default     = ""
  validation {
    condition     = var.image_digest == "" || can(regex("^sha256:[0-9a-f]{64}$", var.image_digest))
    error_message = "image_digest must look like sha256:<64 hex digits> (docker inspect --format '{{index .RepoDigests 0}}')."
  }
}

variable "tags" {
  description = "Extra tags for every resource, the spot instances and the ECS tasks included (cost allocation: team, project, environment)."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "KMS key for the results bucket's default encryption (SSE-KMS); empty: SSE-S3 (AES256). The jobs may use it."
  type        = string
  default     = ""
}

variable "input_kms_key_arns" {
  description = "KMS keys the input images (or the Inventory, or an s3:// model) are encrypted with: the jobs may decrypt with them."
  type        = list(string)
  default     = []
}

variable "alarm_email" {
  description = "Email that the failed-job alarm (SNS topic alarm_topic) notifies; empty: subscribe to the topic yourself."
  type        = string
  default     = ""
}

variable "model" {
  description = "Model given to imgtag run: a built-in name, a path inside the image, or an s3:// URI (the jobs may read its folder)."
  type        = string
  default     = "mobilenetv2-12-int8"
}

variable "device" {
  description = "onnxruntime execution provider of the array children: cuda or tensorrt on the GPU fleet, cpu on the CPU fleet; empty: cuda on GPU, cpu on CPU."
  type        = string
  default     = ""
  validation {
    condition     = contains(["", "cpu", "cuda", "tensorrt"], var.device)
    error_message = "device must be cpu, cuda, tensorrt or empty."
  }
}

variable "nightly_manifest" {
  description = "What the nightly reads: the S3 Inventory configuration's folder, ending in / (s3://dest/prefix/source-bucket/config-id/: each night its newest dated manifest.json), or one fixed Inventory manifest.json (.../source-bucket/config-id/<date>/manifest.json), or a key list (s3://bucket/any/keys.txt); empty: no schedule."
  type        = string
  default     = ""
  validation {
    condition = var.nightly_manifest == "" || (
      can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+", var.nightly_manifest)) &&
      (!endswith(var.nightly_manifest, "manifest.json") || length(split("/", trimprefix(var.nightly_manifest, "s3://"))) >= 5)
    )
    error_message = "nightly_manifest must be s3://bucket/key: an Inventory folder ending in /, an Inventory manifest.json as S3 writes it (.../source-bucket/config-id/<date>/manifest.json), or a key list."
  }
}

variable "nightly_schedule" {
  description = "When the nightly run starts (EventBridge Scheduler expression)."
  type        = string
  default     = "cron(0 2 * * ? *)"
}

variable "nightly_fleet_threshold" {
  description = "The nightly tags a delta of fewer images on its own CPU job; from this many on, it submits an array job to the tagging queue (imgtag submit picks shards per child so the array fits in 10,000 children)."
  type        = number
  default     = 20000
}

variable "nightly_shard_size" {
  description = "Images per shard of a nightly run (an array child takes one or more shards): 2000 keeps 300 M images at 150,000 shards, 15 per child."
  type        = number
  default     = 2000
}

variable "nightly_runs_expire_days" {
  description = "Days after which a nightly run directory is expired (0: kept). The current table and the dataset are not affected."
  type        = number
  default     = 30
}

variable "planning_instance_types" {
  description = "CPU instances for the nightly's planning step and the compact jobs (spot, never the tagging fleet)."
  type        = list(string)
  default     = ["c7i.xlarge", "c6i.xlarge", "m7i.xlarge", "m6i.xlarge"]
}

variable "planning_max_vcpus" {
  description = "Upper bound of the CPU compute environment (planning, and compaction: up to 32 merge children of planning_vcpus each at 300 M images)."
  type        = number
  default     = 128
}

variable "planning_vcpus" {
  description = "vCPUs of a planning or compact job."
  type        = number
  default     = 4
}

variable "planning_volume_gib" {
  description = "Root volume of the CPU instances: the nightly's join spills to it (about 50 GB at 300 M objects)."
  type        = number
  default     = 200
}

variable "planning_memory_mib" {
  description = "Memory of a planning or compact job (DuckDB spills to local disk beyond its limit)."
  type        = number
  default     = 7168
}

variable "log_retention_days" {
  description = "How long job logs are kept."
  type        = number
  default     = 30
}

variable "table_models" {
  description = "Column names of the models whose tags the Athena table shows (model_<name>, tags_<name>): the spec name in lower case with _ for other characters."
  type        = list(string)
  default     = ["mobilenetv2_12_int8"]
}

variable "table_embedding_models" {
  description = "Column names of embedding models in the Athena table (model_<name>, embedding_<name>)."
  type        = list(string)
  default     = []
}

variable "table_first_date" {
  description = "First run_date partition the Athena table projects (yyyy-MM-dd)."
  type        = string
  default     = "2026-01-01"
}

variable "athena_bytes_scanned_cutoff" {
  description = "Largest scan one query in the workgroup may make, in bytes."
  type        = number
  default     = 1099511627776
}

variable "runnable_timeout_seconds" {
  description = "A job that Batch reports blocked at the head of a queue (no spot capacity in any listed pool, or more vCPUs or memory than the compute environment can ever give) is cancelled after this long, so it fails and the alarm pages; AWS takes 600 to 86400. Jobs waiting their turn behind running ones are never cancelled."
  type        = number
  default     = 7200
  validation {
    condition     = var.runnable_timeout_seconds >= 600 && var.runnable_timeout_seconds <= 86400
    error_message = "runnable_timeout_seconds must be 600 to 86400 (AWS Batch's jobStateTimeLimitActions bounds)."
  }
}

# The stream (stream.tf, README "Fresh within a minute"): off unless stream = true.
variable "stream" {
  description = "Tag new uploads within a minute: an SQS queue told of every object created or removed under input_prefix, and `imgtag listen` on ECS Fargate scaled with its depth (down to zero); the nightly folds in what it tagged. false: none of it exists."
  type        = bool
  default     = false
}

variable "stream_source" {
  description = "How S3 tells the queue: \"s3\" (an aws_s3_bucket_notification on input_bucket, which REPLACES the bucket's whole notification configuration) or \"eventbridge\" (a rule on the bucket's EventBridge events, for buckets that already notify something: turn on the bucket's EventBridge notifications where its configuration is managed)."
  type        = string
  default     = "s3"
  validation {
    condition     = contains(["s3", "eventbridge"], var.stream_source)
    error_message = "stream_source must be \"s3\" (the module owns the bucket's notification configuration) or \"eventbridge\"."
  }
}

variable "stream_max_receive_count" {
  description = "Receives of one message before SQS moves it to the dead-letter queue (which pages): a poison image, or a consumer killed that many times holding it."
  type        = number
  default     = 5
  validation {
    condition     = var.stream_max_receive_count >= 1 && var.stream_max_receive_count <= 1000
    error_message = "stream_max_receive_count must be 1 to 1000 (SQS's bounds)."
  }
}

variable "stream_visibility_timeout_seconds" {
  description = "How long a received message stays hidden before SQS hands it out again; listen extends it while it tags, so this is how soon a killed consumer's messages return."
  type        = number
  default     = 300
  validation {
    condition     = var.stream_visibility_timeout_seconds >= 30 && var.stream_visibility_timeout_seconds <= 43200
    error_message = "stream_visibility_timeout_seconds must be 30 to 43200 (12 hours, SQS's longest)."
  }
}

variable "stream_batch_size" {
  description = "listen --batch-size: images per micro-batch (one Parquet file and commit marker each); a batch closes at this count or after stream_batch_seconds, whichever first."
  type        = number
  default     = 100
}

variable "stream_batch_seconds" {
  description = "listen --batch-seconds: the longest a micro-batch waits to fill before it is tagged and committed (upload-to-row latency is about this plus the tagging)."
  type        = number
  default     = 10
}

variable "stream_task_cpu" {
  description = "CPU units of a listen task on Fargate (1024 = 1 vCPU; 256, 512, 1024, 2048, 4096, 8192 or 16384), with a memory Fargate allows for it."
  type        = number
  default     = 2048
  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.stream_task_cpu)
    error_message = "stream_task_cpu must be a Fargate CPU size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "stream_task_memory_mib" {
  description = "Memory of a listen task on Fargate, in MiB (2048 to 16384 with 2048 CPU units)."
  type        = number
  default     = 4096
}

variable "stream_min_tasks" {
  description = "Fewest listen tasks: 0 scales to nothing when the queue is empty (the first upload after a quiet spell then waits for a task to start, a minute or two); 1 keeps one running (~$72 a month at the default size) for sub-minute freshness at any hour."
  type        = number
  default     = 0
}

variable "stream_max_tasks" {
  description = "Most listen tasks the queue's depth may scale to (each tags a few hundred images a second)."
  type        = number
  default     = 4
  validation {
    condition     = var.stream_max_tasks >= 1 && var.stream_max_tasks >= var.stream_min_tasks
    error_message = "stream_max_tasks must be at least 1 and at least stream_min_tasks."
  }
}

variable "stream_scale_out_backlog" {
  description = "Messages waiting (visible) for 2 minutes that add a listen task; ten times as many add two."
  type        = number
  default     = 1000
}

variable "stream_scale_in_minutes" {
  description = "Minutes with nothing waiting or in flight before the service scales in to stream_min_tasks."
  type        = number
  default     = 15
}

variable "stream_oldest_message_alarm_seconds" {
  description = "Page (alarm_topic) when the queue's oldest message is older than this: the consumer is down, failing, or at stream_max_tasks."
  type        = number
  default     = 900
}
