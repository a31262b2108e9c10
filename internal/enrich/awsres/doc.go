// Package awsres owns the inventory of the network interfaces (ENIs) of the user's VPCs: for an address or an ENI
// id seen in a flow log, which AWS resource it is (an EC2 instance and its Name tag, a load balancer, a NAT gateway,
// a Lambda function, a VPC endpoint, ...), in which subnet, VPC, availability zone, account and region, behind which
// security groups.
//
// The inventory is built from EC2 DescribeNetworkInterfaces, one target (a region, optionally in another account
// through an assumed role) at a time, plus the Name tags of the attached instances (DescribeTags). A Refresher
// rebuilds it in the background every Config.Interval and swaps an immutable Snapshot in with one atomic store, so
// Lookup and Interface never wait, never allocate and never do I/O: an address that is not in the snapshot is a
// miss now and is found after the next refresh, without holding the batch that asked. A target whose refresh fails
// keeps its previous part of the snapshot.
//
// What this package does not own: reading flow logs (internal/format/vpcflow), deciding which document fields the
// answers fill (the enrichment step of the pipeline), and credentials beyond assuming the configured roles.
package awsres
