"""``flux.resource`` of the mock flux package."""

from flux.resource.list import ResourceSet, SchedResourceList, resource_list

__all__ = ["ResourceSet", "SchedResourceList", "resource_list"]
