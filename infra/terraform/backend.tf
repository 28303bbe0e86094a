# State in S3, configured at init (README: "1. State"): terraform init -backend-config=... .
# Tests and `terraform validate` run with -backend=false.
terraform {
  backend "s3" {}
}
