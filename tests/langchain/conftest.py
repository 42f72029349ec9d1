from tests.client.world import world

__all__ = ["world"]
