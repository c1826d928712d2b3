"""The notebook view of a reconciliation says where it was computed: on Dask (workers,
partitions, a link to the dashboard that lives only as long as the cluster) or, with no
``params["dask"]``, nothing about it."""

from __future__ import annotations

import re


def test_a_result_computed_on_dask_says_so_with_the_dashboard(on_dask, seed0):
    html = on_dask(seed0)._repr_html_()
    assert "Computed on Dask: 2 workers, 8 partitions" in html
    links = re.findall(r"<a [^>]*>[^<]*</a>", html)
    assert links == ["<a href='http://127.0.0.1:8787/status' target='_blank' "
                     "rel='noopener noreferrer'>Dask dashboard (live while the cluster runs)"
                     "</a>"]
    # the line sits under the heading, before the figures
    assert html.index("Computed on Dask") < html.index("<table")


def test_a_result_of_one_machine_is_unchanged(seed0):
    html = seed0._repr_html_()
    assert "dask" not in html.lower() and "<a " not in html
    assert "reconciled</h4><table>" in html


def test_the_dashboard_is_escaped_and_only_a_web_address_is_a_link(on_dask, seed0):
    html = on_dask(seed0, dashboard="http://h:8787/status?a=1&b='x'><script>")._repr_html_()
    assert "<script>" not in html
    assert "href='http://h:8787/status?a=1&amp;b=&#x27;x&#x27;&gt;&lt;script&gt;'" in html
    for address in ("javascript:alert(1)", None):
        html = on_dask(seed0, dashboard=address)._repr_html_()
        assert "Computed on Dask: 2 workers, 8 partitions</p>" in html
        assert "<a " not in html and "javascript" not in html
    html = on_dask(seed0, workers=1, partitions=1)._repr_html_()
    assert "Computed on Dask: 1 worker, 1 partition" in html
