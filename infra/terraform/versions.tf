terraform {
  # 1.10: the S3 backend's own lock file (use_lockfile), no DynamoDB table needed.
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.47 fixed aws_batch_job_definition's arn/revision after an update (hashicorp/terraform-provider-aws#37111,
      # a regression of 5.44-5.46): before it, the schedule kept naming a deregistered revision.
      # .terraform.lock.hcl pins the exact release this module was tested with.
      version = ">= 5.50, < 6.0"
    }
  }
}

provider "aws" {
  region = var.region
  # Cost allocation: every resource this module creates carries these tags (activate them in Billing).
  default_tags {
    tags = local.cost_tags
  }
}

# The partition (aws, aws-cn, aws-us-gov) and account every ARN here is built from.
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  cost_tags = merge({ Project = "imgtag", "imgtag:fleet" = var.name }, var.tags)
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
}
