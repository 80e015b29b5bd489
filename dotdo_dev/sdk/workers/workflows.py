"""Workflow-specific exceptions, as in the SDK's `workers.workflows`."""


class NonRetryableError(Exception):
    """Raised in a workflow step to tell the Workflows engine not to retry the step."""
