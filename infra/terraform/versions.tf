terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 6.0"
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

locals {
  cost_tags = merge({ Project = "imgtag", "imgtag:fleet" = var.name }, var.tags)
}
