# How the instances reach AWS. Every image is read from S3 and every image layer ECR serves comes
# from S3: through a NAT gateway each byte costs ~$0.045/GB (300 M phone photos, ~900 TB: ~$40,000),
# through an S3 gateway endpoint nothing. So the module always adds one to the subnets' route tables.
# Subnets without a NAT also need the interface endpoints Batch on ECS uses (the instances register
# with ECS, pull from ECR, write logs) and the ones the jobs call (the nightly: Batch and Glue; STS),
# or the instances never join and jobs stay RUNNABLE for ever.
locals {
  # sqs: the stream's consumer (stream.tf), only with stream = true. Fargate tasks need no ECS endpoint of
  # their own: they pull through ecr.api, ecr.dkr and S3, and log through logs.
  endpoint_services  = ["ecs", "ecs-agent", "ecs-telemetry", "ecr.api", "ecr.dkr", "logs", "sts", "glue", "batch", "sqs"]
  interface_services = var.subnet_egress == "endpoints" ? [for s in local.endpoint_services : s if s != "sqs" || var.stream] : []
  # Created here: what the subnets need, less what the VPC already has.
  gateway_endpoints   = contains(var.existing_vpc_endpoints, "s3") ? [] : ["s3"]
  interface_endpoints = toset([for s in local.interface_services : s if !contains(var.existing_vpc_endpoints, s)])
}

resource "aws_vpc_endpoint" "s3" {
  for_each          = toset(local.gateway_endpoints)
  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.route_table_ids
  lifecycle {
    precondition {
      condition     = length(var.route_table_ids) > 0
      error_message = "route_table_ids: the route tables of subnet_ids, where the S3 gateway endpoint goes (or existing_vpc_endpoints = [\"s3\", ...] when the VPC has one on them already)."
    }
  }
  tags = { Name = "${var.name}-s3" }
}

# The interface endpoints answer on 443 to the instances' security groups, under the services'
# usual names (private DNS), so the ECS agent, Docker and the AWS SDK find them unchanged.
resource "aws_security_group" "endpoints" {
  count       = length(local.interface_endpoints) > 0 ? 1 : 0
  name        = "${var.name}-endpoints"
  description = "imgtag interface VPC endpoints: HTTPS from the fleet"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "endpoints" {
  for_each                     = length(local.interface_endpoints) > 0 ? toset(var.security_group_ids) : toset([])
  security_group_id            = aws_security_group.endpoints[0].id
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  description                  = "HTTPS from the imgtag instances"
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = local.interface_endpoints
  vpc_id              = var.vpc_id
  service_name        = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
  tags                = { Name = "${var.name}-${each.key}" }
}
