package kinflowstack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ConsumerServiceProps configures consumer mode.
type ConsumerServiceProps struct {
	Config ConsumerConfig
	Stream *Stream
	// MaxTasks is the resolved upper bound of the service (at most one worker per shard is useful).
	MaxTasks int
	Env      map[string]*string
	// Intake, when set, is the S3 intake whose queue the consumer polls beside the stream.
	Intake *S3Intake
}

// ConsumerService owns consumer mode: a Fargate service of KCL workers (arm64), the DynamoDB lease table they share
// (also the finalizer's lock and watermarks), scaling between MinTasks and MaxTasks on CPU and iterator age, and the
// container health check. With the S3 intake the workers also poll its queue and read the objects it announces.
type ConsumerService struct {
	constructs.Construct
	Vpc     awsec2.IVpc
	Cluster awsecs.Cluster
	Leases  awsdynamodb.Table
	// State holds the shards' progress, finalized windows and the finalizer lock: a table of its own, because the
	// KCL library reads only the first page of a lease-table scan and other items there could hide leases.
	State      awsdynamodb.Table
	TaskRole   awsiam.Role
	Logs       awslogs.LogGroup
	TaskDef    awsecs.FargateTaskDefinition
	Service    awsecs.FargateService
	Scaling    awsecs.ScalableTaskCount
	publicOnly bool
}

// NewConsumerService creates consumer mode.
func NewConsumerService(scope constructs.Construct, id string, p ConsumerServiceProps) *ConsumerService {
	c := constructs.NewConstruct(scope, jsii.String(id))
	s := &ConsumerService{Construct: c}
	cfg := p.Config

	if cfg.VPCID != "" {
		s.Vpc = awsec2.Vpc_FromLookup(c, jsii.String("Vpc"), &awsec2.VpcLookupOptions{VpcId: jsii.String(cfg.VPCID)})
	} else {
		subnets := []*awsec2.SubnetConfiguration{{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)}}
		if cfg.NatGateways > 0 {
			subnets = append(subnets, &awsec2.SubnetConfiguration{Name: jsii.String("workers"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(22)})
		} else {
			s.publicOnly = true
		}
		// DynamoDB (and S3, for the intake's objects) traffic stays on the AWS network and costs no NAT processing.
		gateways := map[string]*awsec2.GatewayVpcEndpointOptions{
			"DynamoDB": {Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB()},
		}
		if p.Intake != nil {
			gateways["S3"] = &awsec2.GatewayVpcEndpointOptions{Service: awsec2.GatewayVpcEndpointAwsService_S3()}
		}
		s.Vpc = awsec2.NewVpc(c, jsii.String("Vpc"), &awsec2.VpcProps{
			IpAddresses:         awsec2.IpAddresses_Cidr(jsii.String("10.42.0.0/16")),
			MaxAzs:              jsii.Number(2),
			NatGateways:         jsii.Number(cfg.NatGateways),
			SubnetConfiguration: &subnets,
			GatewayEndpoints:    &gateways,
		})
		// The workers' own VPC logs its rejected traffic (not into kinflow's stream: that would feed itself).
		s.Vpc.(awsec2.Vpc).AddFlowLog(jsii.String("Rejected"), &awsec2.FlowLogOptions{
			TrafficType: awsec2.FlowLogTrafficType_REJECT,
			Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(awslogs.NewLogGroup(c, jsii.String("VpcFlowLogs"), &awslogs.LogGroupProps{
				Retention:     awslogs.RetentionDays_TWO_WEEKS,
				RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
			}), nil),
		})
	}
	insights := awsecs.ContainerInsights_DISABLED
	if cfg.ContainerInsights {
		insights = awsecs.ContainerInsights_ENABLED
	}
	s.Cluster = awsecs.NewCluster(c, jsii.String("Cluster"), &awsecs.ClusterProps{Vpc: s.Vpc, ContainerInsightsV2: insights})
	s.Leases = newStateTable(c, "Leases")
	s.State = newStateTable(c, "State")

	s.TaskRole = awsiam.NewRole(c, jsii.String("TaskRole"), &awsiam.RoleProps{
		Description: jsii.String("kinflow: the consumer reads the stream, holds leases and writes the sink"),
		AssumedBy: awsiam.NewPrincipalWithConditions(awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
			&map[string]interface{}{
				"StringEquals": map[string]interface{}{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			}),
	})
	p.Stream.Stream.GrantRead(s.TaskRole)
	grantState(s.TaskRole, s.Leases, s.State)
	if p.Intake != nil {
		p.Intake.GrantConsume(s.TaskRole)
		p.Intake.GrantRead(s.TaskRole)
	}

	s.Logs = newRuntimeLogGroup(c, "Logs")
	s.TaskDef = awsecs.NewFargateTaskDefinition(c, jsii.String("Task"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(cfg.CPU),
		MemoryLimitMiB: jsii.Number(cfg.MemoryMB),
		TaskRole:       s.TaskRole,
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_ARM64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})
	var image awsecs.ContainerImage
	if cfg.Image != "" {
		image = awsecs.ContainerImage_FromRegistry(jsii.String(cfg.Image), nil)
	} else {
		image = awsecs.ContainerImage_FromAsset(jsii.String(cfg.DockerDir), &awsecs.AssetImageProps{
			File:     jsii.String(cfg.Dockerfile),
			Platform: awsecrassets.Platform_LINUX_ARM64(),
			Exclude:  jsii.Strings(".git", ".cache", "cdk.out", "dist", "bin", "**/testdata"),
		})
	}
	env := map[string]*string{}
	for k, v := range p.Env {
		env[k] = v
	}
	env[EnvStreamName] = p.Stream.Stream.StreamName()
	env[EnvLeaseTable] = s.Leases.TableName()
	env[EnvStateTable] = s.State.TableName()
	env[EnvApplicationName] = awscdk.Aws_STACK_NAME()
	env[EnvInitialPosition] = jsii.String("TRIM_HORIZON")
	if p.Intake != nil {
		env[EnvSQSQueueURL] = p.Intake.Queue.QueueUrl()
		if p.Intake.Routes != nil {
			env[EnvS3Routes] = p.Intake.Routes
		}
	}
	s.TaskDef.AddContainer(jsii.String("consumer"), &awsecs.ContainerDefinitionOptions{
		Image:                  image,
		Command:                jsii.Strings("run"),
		Environment:            &env,
		ReadonlyRootFilesystem: jsii.Bool(true),
		Logging:                awsecs.LogDrivers_AwsLogs(&awsecs.AwsLogDriverProps{StreamPrefix: jsii.String("consumer"), LogGroup: s.Logs}),
		HealthCheck: &awsecs.HealthCheck{
			Command:     jsii.Strings(cfg.HealthCommand...),
			Interval:    awscdk.Duration_Seconds(jsii.Number(30)),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(5)),
			Retries:     jsii.Number(3),
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(60)),
		},
		StopTimeout: awscdk.Duration_Seconds(jsii.Number(60)), // time to checkpoint and release leases
	})

	sg := awsec2.NewSecurityGroup(c, jsii.String("Workers"), &awsec2.SecurityGroupProps{
		Vpc:              s.Vpc,
		Description:      jsii.String("kinflow consumer workers: outbound only (Kinesis, DynamoDB, the sink, the webhook)"),
		AllowAllOutbound: jsii.Bool(true),
	})
	subnetType := awsec2.SubnetType_PRIVATE_WITH_EGRESS
	if s.publicOnly {
		subnetType = awsec2.SubnetType_PUBLIC
	}
	s.Service = awsecs.NewFargateService(c, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:           s.Cluster,
		TaskDefinition:    s.TaskDef,
		DesiredCount:      jsii.Number(cfg.MinTasks),
		AssignPublicIp:    jsii.Bool(s.publicOnly),
		VpcSubnets:        &awsec2.SubnetSelection{SubnetType: subnetType},
		SecurityGroups:    &[]awsec2.ISecurityGroup{sg},
		CircuitBreaker:    &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		MinHealthyPercent: jsii.Number(100),
		MaxHealthyPercent: jsii.Number(200),
		PlatformVersion:   awsecs.FargatePlatformVersion_LATEST,
	})

	s.Scaling = s.Service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: jsii.Number(cfg.MinTasks),
		MaxCapacity: jsii.Number(p.MaxTasks),
	})
	s.Scaling.ScaleOnCpuUtilization(jsii.String("Cpu"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(60),
		ScaleOutCooldown:         awscdk.Duration_Minutes(jsii.Number(2)),
		ScaleInCooldown:          awscdk.Duration_Minutes(jsii.Number(10)),
	})
	s.Scaling.ScaleOnMetric(jsii.String("IteratorAge"), &awsapplicationautoscaling.BasicStepScalingPolicyProps{
		Metric: p.Stream.Stream.MetricGetRecordsIteratorAgeMilliseconds(nil),
		ScalingSteps: &[]*awsapplicationautoscaling.ScalingInterval{
			{Upper: jsii.Number(60_000), Change: jsii.Number(0)},
			{Lower: jsii.Number(300_000), Change: jsii.Number(1)},
			{Lower: jsii.Number(1_800_000), Change: jsii.Number(2)},
		},
		AdjustmentType: awsapplicationautoscaling.AdjustmentType_CHANGE_IN_CAPACITY,
		Cooldown:       awscdk.Duration_Minutes(jsii.Number(5)),
	})
	return s
}
