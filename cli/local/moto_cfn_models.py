"""CloudFormation resource types moto 5.2.1 lacks (or gets wrong) that the AgentOS node stack uses.

moto's CloudFormation finds a resource type's model by `CloudFormationModel.__subclasses__()` (direct
subclasses only, cached by `moto.cloudformation.parsing.get_model_list`/`get_model_map`): defining a
direct subclass below registers it. Each model delegates to the service backend, exactly like
moto's own models do, so the resource is visible through the service's API afterwards.

Added types:  AWS::SecretsManager::Secret, AWS::SQS::QueuePolicy, AWS::SES::EmailIdentity,
              AWS::ApiGateway::Stage, AWS::ApiGateway::GatewayResponse, AWS::CloudWatch::Alarm
              (name, actions and state only: moto never evaluates an alarm), AWS::CDK::Metadata (no-op)
Fixed types:  AWS::StepFunctions::StateMachine (DefinitionSubstitutions; backend used by the API
              when execute_state_machine is on), AWS::ApiGateway::Deployment (Ref gives its id),
              AWS::Lambda::Function (Architectures, TracingConfig), AWS::DynamoDB::Table (TTL, PITR),
              AWS::Logs::LogGroup (update of RetentionInDays)
Fixed engine: change-set execution creates resources in dependency order and rebuilds the outputs;
              DeleteChangeSet/DescribeChangeSet of a missing change set behave as on AWS;
              UsePreviousValue of SSM-typed parameters; failures name the resource (ValidationError
              instead of a foreign-protocol error or a retried HTTP 500); updates of models without
              update support keep the resource instead of dropping it.
"""

import json
import re
from typing import Any

from moto.apigateway.models import Deployment, apigateway_backends
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.exceptions import ValidationError as CloudFormationValidationError
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudwatch.models import cloudwatch_backends
from moto.awslambda.models import LambdaFunction
from moto.core.common_models import CloudFormationModel
from moto.dynamodb.models.table import Table
from moto.logs.models import LogGroup
from moto.secretsmanager.models import secretsmanager_backends
from moto.ses.models import ses_backends
from moto.sqs.exceptions import QueueDoesNotExist
from moto.sqs.models import sqs_backends
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.responses import get_backend as stepfunctions_backend_in_use


_MOTO_MODULE = "moto.cloudformation.agentos_models"


def _props(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return cloudformation_json.get("Properties", {}) or {}


# --------------------------------------------------------------------------- AWS::SecretsManager::Secret
class CfnSecretsManagerSecret(CloudFormationModel):
    __module__ = _MOTO_MODULE  # moto files every model under the service named by its module
    def __init__(self, arn: str, name: str, account_id: str, region_name: str):
        self.arn = arn
        self.name = name
        self.account_id = account_id
        self.region_name = region_name

    @property
    def physical_resource_id(self) -> str:
        return self.arn  # Ref of a secret is its ARN

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Id":
            return self.arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @staticmethod
    def _secret_string(backend: Any, props: dict[str, Any]) -> str:
        if "SecretString" in props:
            return props["SecretString"]
        generate = props.get("GenerateSecretString")
        if generate is None:
            return ""
        password = backend.get_random_password(
            password_length=int(generate.get("PasswordLength", 32)),
            exclude_characters=generate.get("ExcludeCharacters", ""),
            exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
            exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
            exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
            exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
            include_space=bool(generate.get("IncludeSpace", False)),
            require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
        )
        password = json.loads(password)["RandomPassword"] if password.startswith("{") else password
        template = generate.get("SecretStringTemplate")
        key = generate.get("GenerateStringKey")
        if template is not None and key is not None:
            document = json.loads(template)
            document[key] = password
            return json.dumps(document)
        return password

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> "CfnSecretsManagerSecret":
        props = _props(cloudformation_json)
        backend = secretsmanager_backends[account_id][region_name]
        created = backend.create_secret(
            name=resource_name,
            secret_string=cls._secret_string(backend, props),
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn = json.loads(created)["ARN"]  # moto's create_secret answers with the response's JSON text
        return cls(arn, resource_name, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str,
    ) -> "CfnSecretsManagerSecret":
        props = _props(cloudformation_json)
        if new_resource_name != original_resource.name:
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        backend = secretsmanager_backends[account_id][region_name]
        if "Description" in props:
            backend.update_secret(
                secret_id=original_resource.name, secret_string=None, secret_binary=None,
                client_request_token=None, kms_key_id=None, description=props["Description"],
            )
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = secretsmanager_backends[account_id][region_name]
        name = _props(cloudformation_json).get("Name", resource_name)
        backend.delete_secret(name, recovery_window_in_days=None, force_delete_without_recovery=True)

    def delete(self, account_id: str, region_name: str) -> None:
        secretsmanager_backends[account_id][region_name].delete_secret(
            self.name, recovery_window_in_days=None, force_delete_without_recovery=True
        )

    def is_created(self) -> bool:
        return True


# --------------------------------------------------------------------------- AWS::SQS::QueuePolicy
class CfnSqsQueuePolicy(CloudFormationModel):
    __module__ = _MOTO_MODULE  # moto files every model under the service named by its module
    def __init__(self, policy_id: str, queue_urls: list[str]):
        self.policy_id = policy_id
        self.queue_urls = queue_urls

    @property
    def physical_resource_id(self) -> str:
        return self.policy_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    @staticmethod
    def _apply(queue_urls: list[str], policy: str, account_id: str, region_name: str) -> None:
        backend = sqs_backends[account_id][region_name]
        for url in queue_urls:
            try:
                backend.set_queue_attributes(url.rstrip("/").rsplit("/", 1)[-1], {"Policy": policy})
            except QueueDoesNotExist:
                if policy:  # creating: the queue must exist; deleting: it may already be gone
                    raise

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> "CfnSqsQueuePolicy":
        props = _props(cloudformation_json)
        document = props["PolicyDocument"]
        policy = document if isinstance(document, str) else json.dumps(document)
        cls._apply(props["Queues"], policy, account_id, region_name)
        return cls(resource_name, list(props["Queues"]))

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str,
    ) -> "CfnSqsQueuePolicy":
        cls._apply(original_resource.queue_urls, "", account_id, region_name)
        return cls.create_from_cloudformation_json(
            original_resource.policy_id, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        cls._apply(_props(cloudformation_json).get("Queues", []), "", account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self._apply(self.queue_urls, "", account_id, region_name)

    def is_created(self) -> bool:
        return True


# --------------------------------------------------------------------------- AWS::SES::EmailIdentity
class CfnSesEmailIdentity(CloudFormationModel):
    __module__ = _MOTO_MODULE  # moto files every model under the service named by its module
    def __init__(self, identity: str):
        self.identity = identity

    @property
    def physical_resource_id(self) -> str:
        return self.identity

    @staticmethod
    def cloudformation_name_type() -> str:
        return "EmailIdentity"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SES::EmailIdentity"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr.startswith("DkimDNSToken")

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        # Only domain identities have DKIM records; an email address identity has none.
        return ""

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> "CfnSesEmailIdentity":
        props = _props(cloudformation_json)
        identity = props["EmailIdentity"]
        ses_backends[account_id][region_name].create_email_identity_v2(
            identity,
            tags=props.get("Tags"),
            dkim_signing_attributes=props.get("DkimSigningAttributes"),
            configuration_set_name=(props.get("ConfigurationSetAttributes") or {}).get("ConfigurationSetName"),
        )
        return cls(identity)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str,
    ) -> "CfnSesEmailIdentity":
        identity = _props(cloudformation_json)["EmailIdentity"]
        if identity != original_resource.identity:
            ses_backends[account_id][region_name].delete_identity(original_resource.identity)
            return cls.create_from_cloudformation_json(identity, cloudformation_json, account_id, region_name)
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        identity = _props(cloudformation_json).get("EmailIdentity", resource_name)
        ses_backends[account_id][region_name].delete_identity(identity)

    def delete(self, account_id: str, region_name: str) -> None:
        ses_backends[account_id][region_name].delete_identity(self.identity)

    def is_created(self) -> bool:
        return True


# --------------------------------------------------------------------------- AWS::CloudWatch::Alarm
class CfnCloudWatchAlarm(CloudFormationModel):
    """A node alarm as a name, its actions and its state. moto never evaluates alarms, so an alarm's
    metric (or metric math) is not kept; SetAlarmState moves it, and DescribeAlarms shows it, which is
    what `agentos validate --test-alert` and the artifact host's alarm-action stand-in use."""

    __module__ = _MOTO_MODULE

    def __init__(self, name: str, arn: str):
        self.name = name
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> "CfnCloudWatchAlarm":
        props = _props(cloudformation_json)
        name = props.get("AlarmName", resource_name)
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=props.get("Namespace", ""),
            metric_name=props.get("MetricName", ""),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props.get("Period", 60)),
            threshold=float(props.get("Threshold", 0)),
            statistic=props.get("Statistic", ""),
            description=props.get("AlarmDescription", ""),
            dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []),
            ok_actions=props.get("OKActions", []),
            insufficient_data_actions=props.get("InsufficientDataActions", []),
            treat_missing_data=props.get("TreatMissingData"),
            actions_enabled=props.get("ActionsEnabled", True) in (True, "true"),
        )
        return cls(name, alarm.alarm_arn)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str,
    ) -> "CfnCloudWatchAlarm":
        name = _props(cloudformation_json).get("AlarmName", new_resource_name)
        if name != original_resource.name:
            cloudwatch_backends[account_id][region_name].delete_alarms([original_resource.name])
        return cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        name = _props(cloudformation_json).get("AlarmName", resource_name)
        cloudwatch_backends[account_id][region_name].delete_alarms([name])

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.name])

    def is_created(self) -> bool:
        return True


# --------------------------------------------------------------------------- AWS::ApiGateway::Stage
def _deployment_id(value: Any) -> str:
    # moto's Deployment model has no physical_resource_id, so a Ref to it yields the model itself.
    return value.id if isinstance(value, Deployment) else value


class CfnApiGatewayStage(CloudFormationModel):
    __module__ = _MOTO_MODULE  # moto files every model under the service named by its module
    def __init__(self, rest_api_id: str, stage_name: str):
        self.rest_api_id = rest_api_id
        self.stage_name = stage_name

    @property
    def physical_resource_id(self) -> str:
        return self.stage_name  # Ref of a stage is its name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "StageName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::Stage"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> "CfnApiGatewayStage":
        props = _props(cloudformation_json)
        backend = apigateway_backends[account_id][region_name]
        rest_api_id = props["RestApiId"]
        stage_name = props.get("StageName", resource_name)
        stage = backend.create_stage(
            function_id=rest_api_id,
            stage_name=stage_name,
            deploymentId=_deployment_id(props.get("DeploymentId")),
            variables=props.get("Variables"),
            description=props.get("Description", ""),
            cacheClusterEnabled=props.get("CacheClusterEnabled"),
            cacheClusterSize=props.get("CacheClusterSize"),
            tags={tag["Key"]: tag["Value"] for tag in props.get("Tags", [])} or None,
            tracing_enabled=props.get("TracingEnabled"),
        )
        for setting in props.get("MethodSettings", []):
            path = setting.get("ResourcePath", "/*").lstrip("/").replace("/", "~1")
            key = f"{path}/{setting.get('HttpMethod', '*')}"
            values = stage._get_default_method_settings()
            for cfn_key, api_key in (
                ("MetricsEnabled", "metricsEnabled"),
                ("DataTraceEnabled", "dataTraceEnabled"),
                ("LoggingLevel", "loggingLevel"),
                ("ThrottlingBurstLimit", "throttlingBurstLimit"),
                ("ThrottlingRateLimit", "throttlingRateLimit"),
                ("CachingEnabled", "cachingEnabled"),
                ("CacheTtlInSeconds", "cacheTtlInSeconds"),
                ("CacheDataEncrypted", "cacheDataEncrypted"),
            ):
                if cfn_key in setting:
                    values[api_key] = setting[cfn_key]
            stage.method_settings[key] = values
        return cls(rest_api_id, stage_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str,
    ) -> "CfnApiGatewayStage":
        backend = apigateway_backends[account_id][region_name]
        backend.delete_stage(original_resource.rest_api_id, original_resource.stage_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        props = _props(cloudformation_json)
        apigateway_backends[account_id][region_name].delete_stage(
            props["RestApiId"], props.get("StageName", resource_name)
        )

    def delete(self, account_id: str, region_name: str) -> None:
        apigateway_backends[account_id][region_name].delete_stage(self.rest_api_id, self.stage_name)

    def is_created(self) -> bool:
        return True


# --------------------------------------------------------------------------- AWS::ApiGateway::GatewayResponse
class CfnApiGatewayGatewayResponse(CloudFormationModel):
    __module__ = _MOTO_MODULE  # moto files every model under the service named by its module
    def __init__(self, rest_api_id: str, response_type: str):
        self.rest_api_id = rest_api_id
        self.response_type = response_type

    @property
    def physical_resource_id(self) -> str:
        return f"{self.rest_api_id}:{self.response_type}"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::GatewayResponse"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> "CfnApiGatewayGatewayResponse":
        props = _props(cloudformation_json)
        apigateway_backends[account_id][region_name].put_gateway_response(
            rest_api_id=props["RestApiId"],
            response_type=props["ResponseType"],
            status_code=props.get("StatusCode"),
            response_parameters=props.get("ResponseParameters"),
            response_templates=props.get("ResponseTemplates"),
        )
        return cls(props["RestApiId"], props["ResponseType"])

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str,
    ) -> "CfnApiGatewayGatewayResponse":
        cls.delete_from_cloudformation_json(
            new_resource_name,
            {"Properties": {"RestApiId": original_resource.rest_api_id, "ResponseType": original_resource.response_type}},
            account_id,
            region_name,
        )
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        props = _props(cloudformation_json)
        apigateway_backends[account_id][region_name].delete_gateway_response(props["RestApiId"], props["ResponseType"])

    def delete(self, account_id: str, region_name: str) -> None:
        apigateway_backends[account_id][region_name].delete_gateway_response(self.rest_api_id, self.response_type)

    def is_created(self) -> bool:
        return True


# --------------------------------------------------------------------------- AWS::CDK::Metadata
class CfnCdkMetadata(CloudFormationModel):
    """CDK's analytics resource: real CloudFormation accepts it and does nothing; so does this."""
    __module__ = _MOTO_MODULE  # moto files every model under the service named by its module

    physical_resource_id = "CDKMetadata"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CDK::Metadata"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(cls, *args: Any, **kwargs: Any) -> "CfnCdkMetadata":  # type: ignore[misc]
        return cls()

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, *args: Any, **kwargs: Any) -> None:  # type: ignore[misc]
        return None

    def is_created(self) -> bool:
        return True


# --------------------------------------------------------------------------- fixes to moto's own models
def _substituted_definition(properties: dict[str, Any]) -> str:
    definition = properties.get("DefinitionString", "")
    if not isinstance(definition, str):
        definition = json.dumps(definition)
    substitutions = properties.get("DefinitionSubstitutions") or {}
    return re.sub(
        r"\$\{([^}]+)\}",
        lambda match: str(substitutions.get(match.group(1), match.group(0))),
        definition,
    )


def _state_machine_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[no-untyped-def]
    properties = cloudformation_json["Properties"]
    if "Definition" in properties and "DefinitionString" not in properties:
        properties["DefinitionString"] = json.dumps(properties["Definition"])
    name = properties.get("StateMachineName", resource_name)
    backend = stepfunctions_backend_in_use(account_id, region_name)
    return backend.create_state_machine(
        name,
        _substituted_definition(properties),
        properties.get("RoleArn", ""),
        tags=sfn_models.cfn_to_api_tags(properties.get("Tags", [])),
    )


def _state_machine_delete(cls, resource_name, cloudformation_json, account_id, region_name):  # type: ignore[no-untyped-def]
    stepfunctions_backend_in_use(account_id, region_name).delete_state_machine(resource_name)


StateMachine.create_from_cloudformation_json = classmethod(_state_machine_create)  # type: ignore[method-assign]
StateMachine.delete_from_cloudformation_json = classmethod(_state_machine_delete)  # type: ignore[method-assign]
# A Ref to a deployment is its id in CloudFormation; moto's model would hand over the object.
Deployment.physical_resource_id = property(lambda self: self.id)  # type: ignore[attr-defined]



# Executing a CREATE change set leaves the stack's template_dict and output map as they were when
# CreateChangeSet made the empty stack, so DescribeStacks shows no outputs. Rebuild them.
_original_execute_change_set = CloudFormationBackend.execute_change_set


def _execute_change_set(self, change_set_name, stack_name=None):  # type: ignore[no-untyped-def]
    _original_execute_change_set(self, change_set_name, stack_name)
    for stack in self.stacks.values():
        if stack.name == stack_name or stack.stack_id == stack_name or (
            change_set_name in self.change_sets and self.change_sets[change_set_name].stack is stack
        ):
            stack._parse_template()
            stack.description = stack.template_dict.get("Description")
            stack.output_map = stack._create_output_map()


CloudFormationBackend.execute_change_set = _execute_change_set  # type: ignore[method-assign]

# DeleteChangeSet of a change set that does not exist fails with an UnboundLocalError (HTTP 500)
# that the SDK retries for ~40 s; CloudFormation accepts it while the stack exists, and the CDK CLI
# relies on that before every update ("cleanupOldChangeset").
_original_delete_change_set = CloudFormationBackend.delete_change_set


def _delete_change_set(self, change_set_name):  # type: ignore[no-untyped-def]
    if change_set_name in self.change_sets or any(
        change_set.change_set_name == change_set_name for change_set in self.change_sets.values()
    ):
        _original_delete_change_set(self, change_set_name)


CloudFormationBackend.delete_change_set = _delete_change_set  # type: ignore[method-assign]

# DescribeChangeSet of a missing change set answers "ValidationError: Stack with id <change set name>
# does not exist"; CloudFormation answers ChangeSetNotFoundException, which is what the CDK CLI waits
# for after deleting the previous change set ("waitForGone") before every update.
class ChangeSetNotFoundException(CloudFormationError):
    __module__ = "moto.cloudformation.exceptions"  # moto finds the service's error shapes by module
    code = "ChangeSetNotFound"


_original_describe_change_set = CloudFormationBackend.describe_change_set


def _describe_change_set(self, change_set_name):  # type: ignore[no-untyped-def]
    try:
        return _original_describe_change_set(self, change_set_name)
    except CloudFormationValidationError:
        raise ChangeSetNotFoundException(f"ChangeSet [{change_set_name}] does not exist") from None


CloudFormationBackend.describe_change_set = _describe_change_set  # type: ignore[method-assign]

# UsePreviousValue of an SSM-typed parameter (CDK's BootstrapVersion, on every update) gives the
# parameter's resolved value ("33") where CloudFormation keeps the SSM parameter name, and moto then
# looks up an SSM parameter called "33": AttributeError, HTTP 500, retried by the SDK for ~45 s.
def _stack_parameters(self):  # type: ignore[no-untyped-def]
    resolved = dict(self.resource_map.resolved_parameters)
    slots = (self.template_dict or {}).get("Parameters", {})
    for key, slot in slots.items():
        if key in resolved and str(slot.get("Type", "")).startswith("AWS::SSM::Parameter::"):
            resolved[key] = self.resource_map.input_parameters.get(key, slot.get("Default"))
    return resolved


Stack.stack_parameters = property(_stack_parameters)  # type: ignore[method-assign,assignment]

# A resource that fails to create surfaces as the service's own error (often in another protocol's
# format, which the SDK cannot parse) with no hint of which resource it was, or as a 500 on a Python
# error, which the SDK retries and the retry then "succeeds" with nothing left to create. Turn every
# failure into a CloudFormation ValidationError naming the resource.
_original_parse_and_create_resource = parsing.parse_and_create_resource


def _parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):  # type: ignore[no-untyped-def]
    try:
        return _original_parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name)
    except CloudFormationValidationError as error:
        if error.message.startswith("Resource "):
            raise
        raise CloudFormationValidationError(
            message=f"Resource {logical_id} ({resource_json.get('Type')}): {error.message}"
        ) from error
    except Exception as error:
        code = getattr(error, "error_type", None) or getattr(error, "code", None) or type(error).__name__
        message = getattr(error, "message", None) or str(error)
        raise CloudFormationValidationError(
            message=f"Resource {logical_id} ({resource_json.get('Type')}): {code}: {message}"
        ) from error


parsing.parse_and_create_resource = _parse_and_create_resource

# Executing a change set goes through ResourceMap.update, which creates the added resources in
# template order and ignores DependsOn (only Refs are resolved, lazily). An API Gateway deployment
# then comes before the methods it DependsOn and moto refuses it ("The REST API doesn't contain any
# methods"). Order the added resources as CloudFormation would: after everything they DependsOn,
# Ref, Fn::GetAtt or Fn::Sub.
def _references(value: Any, names: set) -> set:  # type: ignore[type-arg]
    found: set = set()  # type: ignore[type-arg]
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str) and inner in names:
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                if target in names:
                    found.add(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                for ref in re.findall(r"\$\{([^}!][^}]*)\}", text if isinstance(text, str) else ""):
                    if ref.split(".")[0] in names:
                        found.add(ref.split(".")[0])
                found |= _references(inner, names)
            else:
                found |= _references(inner, names)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner, names)
    return found


def _dependency_order(resources: dict[str, Any]) -> list[str]:
    names = set(resources)
    ordered: list[str] = []
    visiting: set = set()  # type: ignore[type-arg]

    def visit(name: str) -> None:
        if name in ordered or name in visiting:
            return
        visiting.add(name)
        depends_on = resources[name].get("DependsOn", [])
        depends_on = [depends_on] if isinstance(depends_on, str) else depends_on
        for dependency in sorted(set(depends_on) & names | _references(resources[name], names)):
            visit(dependency)
        visiting.discard(name)
        ordered.append(name)

    for name in resources:
        visit(name)
    return ordered


_original_build_resource_diff = parsing.ResourceMap.build_resource_diff


def _build_resource_diff(self, other_template, parameters=None):  # type: ignore[no-untyped-def]
    diff = _original_build_resource_diff(self, other_template, parameters)
    order = _dependency_order(other_template.get("Resources", {}))
    diff["Add"] = sorted(diff["Add"], key=order.index)
    return diff


parsing.ResourceMap.build_resource_diff = _build_resource_diff  # type: ignore[method-assign]

# Properties moto's own models drop on the floor (the resource deploys, but differs from AWS).
_original_lambda_create = LambdaFunction.create_from_cloudformation_json.__func__


def _lambda_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[no-untyped-def]
    function = _original_lambda_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    properties = cloudformation_json["Properties"]
    if "Architectures" in properties:
        function.architectures = list(properties["Architectures"])
    if "TracingConfig" in properties:
        function.tracing_config = dict(properties["TracingConfig"])
    return function


LambdaFunction.create_from_cloudformation_json = classmethod(_lambda_create)  # type: ignore[method-assign]

_original_table_create = Table.create_from_cloudformation_json.__func__


def _table_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[no-untyped-def]
    from moto.dynamodb.models import dynamodb_backends

    table = _original_table_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    properties = cloudformation_json["Properties"]
    backend = dynamodb_backends[account_id][region_name]
    if "TimeToLiveSpecification" in properties:
        backend.update_time_to_live(table.name, properties["TimeToLiveSpecification"])
    if "PointInTimeRecoverySpecification" in properties:
        backend.update_continuous_backups(table.name, properties["PointInTimeRecoverySpecification"])
    return table


Table.create_from_cloudformation_json = classmethod(_table_create)  # type: ignore[method-assign]

# A modified resource whose model has no update_from_cloudformation_json (LogGroup among them) is
# replaced by None in the stack's resource map: the change is not applied and every later Ref to it
# resolves to nothing. Keep the original resource instead; give LogGroup a real update.
_original_parse_and_update_resource = parsing.parse_and_update_resource


def _parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):  # type: ignore[no-untyped-def]
    updated = _original_parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name)
    return resources_map._parsed_resources.get(logical_id) if updated is None else updated


parsing.parse_and_update_resource = _parse_and_update_resource


def _log_group_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):  # type: ignore[no-untyped-def]
    from moto.logs.models import logs_backends

    backend = logs_backends[account_id][region_name]
    retention = cloudformation_json["Properties"].get("RetentionInDays")
    if retention is None:
        backend.delete_retention_policy(original_resource.name)
    else:
        backend.put_retention_policy(original_resource.name, int(retention))
    return original_resource


LogGroup.update_from_cloudformation_json = classmethod(_log_group_update)  # type: ignore[method-assign]

# The model list is cached on first use; make sure it includes the classes above.
parsing.get_model_list.cache_clear()
parsing.get_model_map.cache_clear()
parsing.get_name_type_map.cache_clear()
