// Package apigwaccount is a CloudFormation custom resource that gives API
// Gateway a CloudWatch Logs role in this account and region only when it
// has none, so that a stage with access logging can deploy.
//
// # The problem
//
// API Gateway writes access and execution logs as the role in its account
// setting cloudwatchRoleArn: one value per account and region, shared by
// every REST, HTTP and WebSocket API there. Without it a stage with logging
// fails to deploy ("CloudWatch Logs role ARN must be set in account settings
// to enable logging"). AWS::ApiGateway::Account in each stack is the wrong
// owner for a shared value: CloudFormation's own page says to have only one
// per account and region "to avoid overwriting other roles"; each stack
// instance overwrites whatever the account used, leaves its retained role
// behind, and two deploys at once race on the one setting. A one-time
// bootstrap stack fixes ownership but is a manual step a fresh account
// forgets, and the first deploy then fails.
//
// # What it does
//
// Create and Update (the properties are checked first, every problem
// reported at once):
//
//  1. GetAccount. A cloudwatchRoleArn already set, to anything, is kept:
//     nothing changes, and Data is {"RoleArn": <it>, "Action": "kept"}.
//  2. Otherwise the shared role: GetRole(RoleName); if there is none,
//     CreateRole (trusting apigateway.amazonaws.com for sts:AssumeRole,
//     with RolePath and a description); EntityAlreadyExists means a
//     concurrent deploy won, so GetRole again and use theirs. Then
//     AttachRolePolicy(PolicyARN), which is idempotent. The name is
//     well-known and account-wide: one role per account, never per stack.
//  3. GetAccount again right before UpdateAccount (replace
//     /cloudwatchRoleArn): if a concurrent writer set a role meanwhile, it
//     is kept. Data is {"RoleArn": <shared role>, "Action": "set"}.
//
// Delete does nothing and succeeds: the setting and the shared role stay,
// because other APIs in the account and region may log through them (the
// Delete of a failed Create's rollback is as harmless). CloudFormation's page on
// AWS::ApiGateway::Account notes the same of that resource: deleting the
// stack leaves API Gateway able to assume the role.
//
// An Update that changes RoleName does not move the account to the new
// name's role once it has one: a role already set is kept, by design (b).
//
// The physical resource id is always [PhysicalResourceID], so an update
// never turns into a replacement followed by a Delete of the "old" resource.
//
// # Requirements
//
//   - (a) A fresh account: no role is set, so the shared role is created and
//     set, and the stage that depends on this resource deploys with logging.
//   - (b) An account that has a role keeps it: step 1 returns before any
//     write, and step 3 reads again before its only write.
//   - (c) No role per stack instance: the role has one account-wide name,
//     so every stack finds or creates the same one (IAM is global: stacks in
//     other regions find it too and point their region's setting at it), and
//     Delete removes nothing a stack would have to keep or orphan.
//   - (d) Concurrent deploys: see below.
//   - (e) cdk destroy of one stack: Delete changes nothing.
//
// # Concurrency
//
// Two deploys may interleave anywhere. CreateRole is atomic in IAM: one
// wins, the other gets EntityAlreadyExists and reads the winner's role,
// which has the same name, path, trust and policy, so both continue with
// the same ARN. AttachRolePolicy of an attached policy succeeds, and IAM's
// ConcurrentModification is retried. Both then write the same ARN, or the
// second reads the first's write and keeps it. The one window left is
// between step 3's read and its write: a third party that sets a different
// role exactly then is overwritten with the shared role, which still works
// for logging. Retries use exponential backoff with jitter, so deploys that
// collided do not retry in step.
//
// # Retries and time
//
// Every AWS call runs under the invocation's deadline less [Margin], and no
// retry is scheduled past it, so the function always answers CloudFormation
// (which otherwise waits an hour). Retried, with
// waits from [FirstDelay] doubling to [MaxDelay] (each drawn from [d/2, d]):
// UpdateAccount's BadRequestException about the role ARN (the new role not
// yet usable: IAM propagation, typically seconds), TooManyRequestsException
// and LimitExceededException (both 429), ConflictException, IAM's
// Throttling and ConcurrentModification, and a role that CreateRole says
// exists but GetRole does not show yet. Any other error fails at once,
// wrapped with the step. The SDK's own retryer still handles transport
// errors and 5xx underneath. A 300 s Lambda timeout leaves about 290 s for
// propagation; a few seconds is usual.
//
// # IAM permissions of the function's role
//
// Exactly the calls it makes, on the one setting and the one role, with
// <role ARN> = arn:${Partition}:iam::${AccountId}:role${RolePath}${RoleName}:
//
//	apigateway:GET, apigateway:PATCH   on arn:${Partition}:apigateway:${Region}::/account
//	iam:GetRole, iam:CreateRole        on <role ARN>
//	iam:AttachRolePolicy               on <role ARN>
//	    if ArnEquals iam:PolicyARN = arn:${Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs
//	iam:PassRole                       on <role ARN>
//	    if StringEquals iam:PassedToService = apigateway.amazonaws.com
//
// plus writing its own log group. iam:PassRole is granted because
// UpdateAccount hands the role to API Gateway, the act PassRole governs, and
// Serverless Framework's equivalent custom resource grants it; the service
// authorization reference was not seen to list it for UpdateAccount, so it
// may be unneeded, and it is harmless so scoped. Keep RolePath "/" unless a
// path is needed: with another path, whether IAM authorizes GetRole of a
// role that does not exist yet against the ARN with that path was not
// confirmed.
//
// # Sources
//
//   - AWS::ApiGateway::Account ("only one ... per region per account";
//     deleting the stack leaves the role usable):
//     https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-apigateway-account.html
//   - UpdateAccount (PATCH /account; BadRequestException 400,
//     ConflictException 409, LimitExceededException and
//     TooManyRequestsException 429):
//     https://docs.aws.amazon.com/apigateway/latest/api/API_UpdateAccount.html
//   - Patch operations (UpdateAccount supports only op replace on
//     /cloudwatchRoleArn): https://docs.aws.amazon.com/apigateway/latest/api/patch-operations.html
//   - The BadRequest text while the role is not usable, and the race between
//     role and setting: https://github.com/aws/aws-cdk/issues/2194,
//     https://github.com/aws-cloudformation/rain/issues/163
//   - The managed policy and the apigateway.amazonaws.com trust:
//     https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
//   - iam:PolicyARN to limit the policies a role can be given:
//     https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_iam_limit-managed.html
//   - iam:PassedToService: https://repost.aws/knowledge-center/iam-passrole-error
//   - Prior art, the same mechanism with iam:PassRole in its policy and
//     retries of UpdateAccount while a new role propagates: Serverless
//     Framework's api-gateway-cloud-watch-role custom resource,
//     https://github.com/serverless/serverless/pull/6591
package apigwaccount
