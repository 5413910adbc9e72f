"""The cost model (costs.json, measured on the lab by scripts/measure_costs.py) names only
real read recipes of the catalog, and marks what walks a whole hash table as heavy."""

from __future__ import annotations

from opensips_mcp.catalog import AccessLevel, load_catalog
from opensips_mcp.catalog.costs import load_costs

CLASSES = {"constant", "contacts", "dialogs", "destinations", "hash_size", "unbounded"}


def test_every_cost_is_of_a_read_recipe_the_catalog_knows() -> None:
    catalog = load_catalog()
    costs = load_costs()
    assert len(costs) > 50
    for cost in costs._by_key.values():
        entry = catalog.get(cost.command)
        assert entry is not None, cost.command
        recipes = {frozenset(r.params): r.level for r in entry.recipes}
        assert recipes.get(frozenset(cost.recipe)) == AccessLevel.READ, cost
        assert cost.cls in CLASSES
        assert cost.time_ms >= 0 and cost.bytes >= 0


def test_t_hash_is_heavy_with_an_alternative_and_paged_dialog_lists_are_not() -> None:
    costs = load_costs()
    t_hash = costs.lookup("t_hash", ())
    assert t_hash is not None and t_hash.heavy and t_hash.cls == "hash_size"
    assert t_hash.instead
    paged = costs.lookup("dlg_list", ("index", "counter"))
    assert paged is not None and not paged.heavy
    assert [c.command for c in costs.heavy()][:1] == ["t_hash"]
