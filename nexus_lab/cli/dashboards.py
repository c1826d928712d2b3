"""``nexus-lab dashboards serve | list``: the Panel dashboards of every point of view.

Commands::

    nexus-lab dashboards serve [--port 5006] [--address 127.0.0.1] [--store URL]
                               [--allow-websocket-origin HOST:PORT ...] [--show] [--threads N]
                               [--prefix /PATH]
                               [--oauth-provider NAME --oauth-key ID --oauth-secret S
                                [--oauth-redirect-uri URL]]
    nexus-lab dashboards list

Everyone signs in with a user of the store (``nexus-lab users add NAME --role ROLE``
keeps a hashed password there) and lands on their point of view's dashboard.
"""

from __future__ import annotations

import argparse
from typing import Any

from nexus_lab.cli.records import _store_arg


def register(sub: Any) -> None:
    """Register ``dashboards``."""
    d = sub.add_parser("dashboards", help="serve the dashboards (Panel) behind a login")
    ds = d.add_subparsers(dest="dashboards_command", metavar="ACTION", required=True)
    p = ds.add_parser("serve", help="serve every dashboard and a landing page",
                      description="Serve every dashboard, and a landing page at /, behind a "
                      "login checked against the store's users. Stop with Ctrl-C.")
    p.add_argument("--port", type=int, default=5006, help="the port (default 5006; 0: any "
                   "free port)")
    p.add_argument("--address", default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--allow-websocket-origin", action="append", default=None,
                   metavar="HOST:PORT", help="a host pages may be opened from (repeat it; "
                   "needed when serving beyond this machine)")
    p.add_argument("--prefix", default=None, metavar="/PATH",
                   help="serve every page under this path (the landing page at /PATH/), "
                   "behind a proxy that passes the whole path on")
    p.add_argument("--show", action="store_true", help="open a browser")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="run the pages' actions in N threads, so one user's long action "
                   "holds up no one else (default 0: one at a time, on the server's loop)")
    p.add_argument("--oauth-provider", default=None,
                   help="sign in with OAuth instead (github, azure, okta, generic, ...): "
                   "Panel's providers; the provider's user must be a user of the store")
    p.add_argument("--oauth-key", default=None, help="the OAuth client id")
    p.add_argument("--oauth-secret", default=None, help="the OAuth client secret")
    p.add_argument("--oauth-redirect-uri", default=None, help="the OAuth redirect URI")
    _store_arg(p)
    p.set_defaults(func=_serve)
    p = ds.add_parser("list", help="the dashboards and who lands on which")
    p.set_defaults(func=_list)


def _serve(args: argparse.Namespace) -> int:
    from nexus_lab.dashboards import serve

    oauth = {k: v for k, v in (("oauth_key", args.oauth_key),
                               ("oauth_secret", args.oauth_secret),
                               ("oauth_redirect_uri", args.oauth_redirect_uri)) if v}
    server = serve(port=args.port, address=args.address, store=args.store,
                   allow_websocket_origin=args.allow_websocket_origin, show=args.show,
                   start=False, oauth_provider=args.oauth_provider, threads=args.threads,
                   prefix=args.prefix, **oauth)
    print(f"NEXUS Lab dashboards at http://{args.address}:{server.port}{server.prefix}/ "
          "(Ctrl-C stops)", flush=True)
    server.start()
    try:
        server.io_loop.start()
    finally:
        server.stop(wait=False)
    return 0


def _list(args: argparse.Namespace) -> int:
    from nexus_lab.dashboards import DASHBOARDS, HOME

    for d in DASHBOARDS.values():
        lands = ", ".join(r for r, home in HOME.items() if home == d.name)
        print(f"/{d.name:<9} {d.title:<24} {d.purpose}"
              + (f" [home of {lands}]" if lands else ""))
    return 0
