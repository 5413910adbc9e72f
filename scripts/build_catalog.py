"""Build server/opensips_mcp/catalog/commands.json from the measured facts and the level policy.

Run: .venv/bin/python scripts/build_catalog.py

The facts are the captured commands of OpenSIPS 3.4.18, 3.6.8 and 4.0.1
(captures/opensips-<version>/commands.json); one catalog entry per command, with its name,
aliases and recipes in each version.

The facts give names, modules, recipes and help; this script adds what the facts cannot: an access
level per recipe (classified conservatively: anything that can change state is not ``read``), the
read command that shows the state after an outcome-unknown write, summaries for commands whose help
the server does not give, and the OpenSIPS 4.x names of renamed commands.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "server" / "opensips_mcp" / "catalog" / "commands.json"

R, W, D, A = "read", "write", "destructive", "admin"

# Level of every recipe of a command (a str), or per recipe: {recipe as "a,b": level}.
# A "get or set" command is read only for the recipe that sets nothing.
LEVELS: dict[str, str | dict[str, str]] = {
    # core
    "arg": R,
    "events_list": R,
    "help": R,
    "list_tcp_conns": R,
    "ps": R,
    "pwd": R,
    "sr_get_status": R,
    "sr_list_identifiers": R,
    "sr_list_reports": R,
    "sr_list_status": R,
    "subscribers_list": R,
    "uptime": R,
    "version": R,
    "which": R,
    "cache_fetch": R,
    "cache_store": W,
    "cache_remove": W,
    "event_subscribe": A,
    "raise_event": A,
    "kill": A,
    "reload_routes": A,
    "shm_check": A,
    "mem_pkg_dump": A,
    "mem_rpm_dump": A,
    "mem_shm_dump": A,
    "log_level": {"": R, "level": A, "level,pid": A},
    "log_level_filter": {"consumer": R, "consumer,level_filter": A},
    "log_mute_state": {"consumer": R, "consumer,mute_state": A},
    "xlog_level": {"": R, "level": A},
    # statistics
    "get_statistics": R,
    "list_statistics": R,
    "reset_statistics": D,
    "reset_all_statistics": D,
    # blacklists
    "add_blacklist_rule": W,
    "del_blacklist_rule": W,
    "check_blacklist": R,
    "check_blacklists": R,
    "list_blacklists": R,
    # cpl_c
    "GET_CPL": R,
    "LOAD_CPL": A,
    "REMOVE_CPL": D,
    # permissions
    "address_dump": R,
    "address_reload": W,
    "allow_uri": R,
    "subnet_dump": R,
    # auth_aka
    "aka_av_add": W,
    "aka_av_drop": W,
    "aka_av_drop_all": D,
    "aka_av_fail": W,
    # b2b_logic / b2b_entities / b2b_sca
    "b2b_list": R,
    "b2b_bridge": D,
    "b2b_terminate_call": D,
    "b2b_trigger_scenario": A,
    "b2be_list": R,
    "ua_session_list": R,
    "ua_session_client_start": A,
    "ua_session_reply": A,
    "ua_session_update": A,
    "ua_session_terminate": D,
    "sca_list": R,
    # misc data modules
    "bdb_reload": W,
    "dbt_dump": R,
    "dbt_reload": W,
    "db_get": R,
    "db_set": A,
    "flat_rotate": W,
    "evi_flat_rotate": W,
    # benchmark
    "bm_enable_global": W,
    "bm_enable_timer": W,
    "bm_granularity": W,
    "bm_loglevel": W,
    "bm_poll_results": R,
    # cachedb_local
    "cache_fetch_chunk": R,
    "cache_remove_chunk": D,
    # callops
    "call_hold": W,
    "call_unhold": W,
    "call_transfer": D,
    # call_center
    "cc_agent_login": W,
    "cc_dispatch_call_to_agent": W,
    "cc_internal_call_dispatching": {"": R, "dispatching": W},
    "cc_list_agents": R,
    "cc_list_calls": R,
    "cc_list_flows": R,
    "cc_list_queue": R,
    "cc_reload": W,
    "cc_reset_stats": D,
    # cfgutils
    "check_config_hash": R,
    "get_config_hash": R,
    "rand_get_prob": R,
    "rand_reset_prob": W,
    "rand_set_prob": W,
    "shv_get": R,
    "shv_set": W,
    # presence & co
    "cleanup": W,
    "pres_expose": W,
    "pres_phtable_list": R,
    "refreshWatchers": W,
    "refresh_watchers": W,
    "subs_phtable_list": R,
    "dfks_set_feature": W,
    "rls_update_subscriptions": W,
    "refreshXcapDoc": W,
    "pua_publish": A,
    "pua_subscribe": A,
    # clusterer: carried commands add their own level on top (see catalog.resolve)
    "cluster_send_mi": R,
    "cluster_broadcast_mi": A,
    "clusterer_list": R,
    "clusterer_list_cap": R,
    "clusterer_list_shtags": R,
    "clusterer_list_topology": R,
    "clusterer_reload": W,
    "clusterer_remove_node": D,
    "clusterer_set_cap_status": W,
    "clusterer_set_status": W,
    "clusterer_shtag_set_active": W,
    # config
    "config_list": R,
    "config_push": W,
    "config_push_bulk": W,
    "config_reload": W,
    "config_flush": D,
    # carrierroute
    "cr_dump_routes": R,
    "cr_activate_host": W,
    "cr_add_host": W,
    "cr_deactivate_host": W,
    "cr_replace_host": W,
    "cr_reload_routes": W,
    "cr_delete_host": D,
    # dialog
    "dlg_list": R,
    "dlg_list_ctx": R,
    "list_all_profiles": R,
    "profile_get_size": R,
    "profile_get_values": R,
    "profile_list_dlgs": R,
    "dlg_cluster_sync": W,
    "dlg_db_sync": W,
    "dlg_push_var": W,
    "dlg_set_profile": W,
    "dlg_unset_profile": W,
    "dlg_restore_db": D,
    "dlg_end_dlg": D,
    "profile_end_dlgs": D,
    "dlg_send_sequential": A,
    # domain, dialplan
    "domain_dump": R,
    "domain_reload": W,
    "dp_reload": W,
    "dp_show_partition": R,
    "dp_translate": R,
    # drouting
    "dr_gw_status": {
        "": R,
        "partition_name": R,
        "gw_id": R,
        "gw_id,status": W,
        "partition_name,gw_id": R,
        "partition_name,gw_id,status": W,
    },
    "dr_carrier_status": {
        "": R,
        "partition_name": R,
        "carrier_id": R,
        "carrier_id,status": W,
        "partition_name,carrier_id": R,
        "partition_name,carrier_id,status": W,
    },
    "dr_enable_probing": {"": R, "status": W},
    "dr_number_routing": R,
    "dr_reload": W,
    "dr_reload_status": R,
    # dispatcher
    "ds_list": R,
    "ds_push_script_attrs": W,
    "ds_reload": W,
    "ds_set_state": W,
    # diameter, fraud, freeswitch, gflags, httpd, imc
    "fd_log_level": A,
    "fraud_reload": W,
    "show_fraud_stats": R,
    "fs_list": R,
    "fs_reload": W,
    "fs_subscribe": W,
    "fs_unsubscribe": W,
    "get_gflags": R,
    "is_gflag": R,
    "set_gflag": W,
    "reset_gflag": W,
    "httpd_list_root_path": R,
    "imc_list_members": R,
    "imc_list_rooms": R,
    # load_balancer
    "lb_list": R,
    "lb_reload": W,
    "lb_resize": W,
    "lb_status": {"destination_id": R, "destination_id,new_status": W},
    # media_exchange: media to arbitrary URIs (a wiretap) is admin
    "media_exchange_from_call_to_uri": A,
    "media_exchange_from_call_to_uri_body": A,
    "media_fork_from_call_to_uri": A,
    "media_terminate": D,
    # mqueue: fetching consumes the queue
    "mq_fetch": D,
    "mq_get_size": R,
    "mq_get_sizes": R,
    # msrp
    "msrp_gw_end_session": D,
    "msrp_gw_list_sessions": R,
    "msrp_trace": {"": R, "trace_mode": W},
    "msrp_ua_end_session": D,
    "msrp_ua_list_sessions": R,
    "msrp_ua_send_message": A,
    "msrp_ua_start_session": A,
    # nathelper, pi_http, pike
    "nh_enable_ping": {"": R, "status": W},
    "pi_reload_tbls_and_cmds": W,
    "pike_list": R,
    "pike_rm": W,
    # qrouting
    "qr_disable_dst": W,
    "qr_enable_dst": W,
    "qr_reload": W,
    "qr_status": R,
    # rate_cacher
    "rc_addClient": W,
    "rc_addVendor": W,
    "rc_deleteClient": D,
    "rc_deleteClientRate": D,
    "rc_deleteVendor": D,
    "rc_deleteVendorRate": D,
    "rc_getClientPrice": R,
    "rc_getVendorPrice": R,
    "rc_reloadClientRate": W,
    "rc_reloadVendorRate": W,
    # uac_registrant
    "reg_list": R,
    "reg_reload": W,
    "reg_enable": W,
    "reg_disable": W,
    "reg_force_register": W,
    # regex, userblacklist
    "regex_match": R,
    "regex_match_group": R,
    "regex_reload": W,
    "reload_blacklist": W,
    # ratelimit
    "rl_dump_pipe": R,
    "rl_get_pid": R,
    "rl_list": R,
    "rl_reset_pipe": W,
    "rl_set_pid": W,
    # rtp relays
    "rtp_relay_list": R,
    "rtp_relay_update": W,
    "rtp_relay_update_callid": W,
    "rtpengine_enable": W,
    "rtpengine_reload": W,
    "rtpengine_show": R,
    "teardown": D,
    "rtpproxy_enable": W,
    "rtpproxy_reload": W,
    "rtpproxy_show": R,
    # capture, sockets, caches, stir_shaken
    "sip_capture": {"": R, "capture_mode": W},
    "sockets_list": R,
    "sockets_reload": W,
    "sql_cacher_reload": W,
    "stir_shaken_ca_reload": W,
    "stir_shaken_crl_reload": W,
    # tm: arbitrary SIP requests and replies are admin
    "t_hash": R,
    "t_reply": A,
    "t_uac_cancel": D,
    "t_uac_dlg": A,
    # transports and tracing
    "tcp_reload": W,
    "tcp_trace": {"": R, "trace_mode": W},
    "tls_list": R,
    "tls_reload": W,
    "tls_trace": {"": R, "trace_mode": W},
    "ws_trace": {"": R, "trace_mode": W},
    "wss_trace": {"": R, "trace_mode": W},
    "trace": {"": R, "id": R, "mode": W, "id,mode": W},
    "trace_start": A,
    "trace_stop": W,
    # trie
    "trie_number_delete": W,
    "trie_number_upsert": W,
    "trie_reload": W,
    "trie_reload_status": R,
    "trie_search": R,
    # usrloc
    "ul_dump": R,
    "ul_show_contact": R,
    "ul_add": W,
    "ul_cluster_sync": W,
    "ul_flush": W,
    "ul_rm": D,
    "ul_rm_contact": D,
    "ul_sync": D,
    # lua
    "watch": {"": R, "action,extension": W},
}

# The read that shows the current state after a write whose outcome is unknown.
CHECK_AFTER: dict[str, str] = {
    "dlg_end_dlg": "dlg_list",
    "profile_end_dlgs": "profile_list_dlgs",
    "dlg_set_profile": "dlg_list_ctx",
    "dlg_unset_profile": "dlg_list_ctx",
    "dlg_push_var": "dlg_list_ctx",
    "dlg_restore_db": "dlg_list",
    "dlg_db_sync": "dlg_list",
    "dlg_cluster_sync": "dlg_list",
    "call_hold": "dlg_list",
    "call_unhold": "dlg_list",
    "call_transfer": "dlg_list",
    "media_terminate": "dlg_list",
    "teardown": "dlg_list",
    "t_uac_cancel": "dlg_list",
    "ds_set_state": "ds_list",
    "ds_reload": "ds_list",
    "ds_push_script_attrs": "ds_list",
    "lb_status": "lb_list",
    "lb_resize": "lb_list",
    "lb_reload": "lb_list",
    "dr_gw_status": "dr_gw_status",
    "dr_carrier_status": "dr_carrier_status",
    "dr_reload": "dr_reload_status",
    "dr_enable_probing": "dr_enable_probing",
    "ul_add": "ul_show_contact",
    "ul_rm": "ul_show_contact",
    "ul_rm_contact": "ul_show_contact",
    "ul_flush": "ul_dump",
    "ul_sync": "ul_dump",
    "ul_cluster_sync": "ul_dump",
    "clusterer_set_status": "clusterer_list",
    "clusterer_remove_node": "clusterer_list",
    "clusterer_reload": "clusterer_list",
    "clusterer_shtag_set_active": "clusterer_list_shtags",
    "clusterer_set_cap_status": "clusterer_list_cap",
    "reset_statistics": "get_statistics",
    "reset_all_statistics": "get_statistics",
    "log_level": "log_level",
    "xlog_level": "xlog_level",
    "log_level_filter": "log_level_filter",
    "log_mute_state": "log_mute_state",
    "shv_set": "shv_get",
    "pike_rm": "pike_list",
    "address_reload": "address_dump",
    "add_blacklist_rule": "list_blacklists",
    "del_blacklist_rule": "list_blacklists",
    "set_gflag": "get_gflags",
    "reset_gflag": "get_gflags",
    "rand_set_prob": "rand_get_prob",
    "rand_reset_prob": "rand_get_prob",
    "nh_enable_ping": "nh_enable_ping",
    "trace": "trace",
    "trace_stop": "trace",
    "trace_start": "trace",
    "sip_capture": "sip_capture",
    "tcp_trace": "tcp_trace",
    "tls_trace": "tls_trace",
    "ws_trace": "ws_trace",
    "wss_trace": "wss_trace",
    "msrp_trace": "msrp_trace",
    "rtpengine_enable": "rtpengine_show",
    "rtpengine_reload": "rtpengine_show",
    "rtpproxy_enable": "rtpproxy_show",
    "rtpproxy_reload": "rtpproxy_show",
    "reg_enable": "reg_list",
    "reg_disable": "reg_list",
    "reg_force_register": "reg_list",
    "reg_reload": "reg_list",
    "cc_agent_login": "cc_list_agents",
    "cc_reload": "cc_list_flows",
    "cc_dispatch_call_to_agent": "cc_list_calls",
    "cc_internal_call_dispatching": "cc_internal_call_dispatching",
    "domain_reload": "domain_dump",
    "dp_reload": "dp_show_partition",
    "qr_enable_dst": "qr_status",
    "qr_disable_dst": "qr_status",
    "qr_reload": "qr_status",
    "rl_reset_pipe": "rl_list",
    "rl_set_pid": "rl_get_pid",
    "trie_reload": "trie_reload_status",
    "trie_number_upsert": "trie_search",
    "trie_number_delete": "trie_search",
    "cache_store": "cache_fetch",
    "cache_remove": "cache_fetch",
    "cache_remove_chunk": "cache_fetch_chunk",
    "config_push": "config_list",
    "config_push_bulk": "config_list",
    "config_reload": "config_list",
    "config_flush": "config_list",
    "tls_reload": "tls_list",
    "sockets_reload": "sockets_list",
    "b2b_bridge": "b2b_list",
    "b2b_terminate_call": "b2b_list",
    "b2b_trigger_scenario": "b2b_list",
    "ua_session_client_start": "ua_session_list",
    "ua_session_reply": "ua_session_list",
    "ua_session_update": "ua_session_list",
    "ua_session_terminate": "ua_session_list",
    "msrp_gw_end_session": "msrp_gw_list_sessions",
    "msrp_ua_end_session": "msrp_ua_list_sessions",
    "msrp_ua_start_session": "msrp_ua_list_sessions",
    "msrp_ua_send_message": "msrp_ua_list_sessions",
    "mq_fetch": "mq_get_size",
    "rtp_relay_update": "rtp_relay_list",
    "rtp_relay_update_callid": "rtp_relay_list",
    "cr_activate_host": "cr_dump_routes",
    "cr_deactivate_host": "cr_dump_routes",
    "cr_add_host": "cr_dump_routes",
    "cr_delete_host": "cr_dump_routes",
    "cr_replace_host": "cr_dump_routes",
    "cr_reload_routes": "cr_dump_routes",
    "fs_subscribe": "fs_list",
    "fs_unsubscribe": "fs_list",
    "fs_reload": "fs_list",
    "dbt_reload": "dbt_dump",
    "db_set": "db_get",
    "kill": "uptime",
    "event_subscribe": "subscribers_list",
    "watch": "watch",
    # new in 4.x
    "tcp:close": "list_tcp_conns",
    "uac_registrant:delete": "reg_list",
    "uac_registrant:upsert": "reg_list",
    "presence_callinfo:release_line": "presence_callinfo:list_lines",
    "presence_callinfo:set_log_level": "presence_callinfo:set_log_level",
    "cachedb_redis:redis_cluster_refresh": "cachedb_redis:redis_cluster_info",
    "core:profiling_proc": "core:profiling_proc",
    "bins:trace": "bins:trace",
}

# Summaries for commands whose help the live server did not give.
SUMMARIES: dict[str, str] = {
    "address_dump": "lists the permissions address table (IP, mask, port, protocol, group)",
    "address_reload": "reloads the permissions address table from the database",
    "allow_uri": "checks whether a URI/contact pair is allowed by a permissions basename",
    "b2b_list": "lists the B2B logic tuples (calls handled by the B2BUA)",
    "b2b_terminate_call": "ends a B2BUA call by its key",
    "dlg_end_dlg": "ends an ongoing dialog (call) by its ID, sending BYE to both sides",
    "dlg_list": "lists ongoing dialogs (calls); pages with index/counter; filters by callid",
    "dlg_list_ctx": "like dlg_list, also with each dialog's context (profiles, values)",
    "dlg_set_profile": "adds a dialog to a profile (optionally with a value)",
    "dlg_unset_profile": "removes a dialog from a profile",
    "dlg_cluster_sync": "requests a dialog sync from the cluster",
    "dlg_db_sync": "loads dialog information from the database into memory",
    "dlg_restore_db": "restores the dialog table from memory into the database",
    "dlg_push_var": "sets a dialog variable in an ongoing dialog",
    "dlg_send_sequential": "sends a sequential request inside an ongoing dialog",
    "list_all_profiles": "lists all dialog profiles and whether they have values",
    "profile_get_size": "counts the dialogs in a profile (optionally for one value)",
    "profile_get_values": "lists the values of a profile with the dialog count of each",
    "profile_list_dlgs": "lists the dialogs in a profile (optionally for one value)",
    "profile_end_dlgs": "ends every dialog in a profile (optionally for one value)",
    "ds_list": "lists dispatcher sets and destinations with their state",
    "ds_set_state": "sets a dispatcher destination's state (a=active, i=inactive, p=probing)",
    "ds_reload": "reloads dispatcher destinations from the database",
    "ds_push_script_attrs": "sets the script attributes of a dispatcher destination",
    "lb_list": "lists load-balancer destinations with their resources, load and capacity",
    "lb_status": "gets or sets (new_status) a load-balancer destination's status",
    "lb_resize": "changes the capacity of a resource of a load-balancer destination",
    "lb_reload": "reloads load-balancer destinations from the database",
    "ul_dump": "dumps the registrations (usrloc) of all tables; brief omits contact details",
    "ul_show_contact": "shows the contacts registered for an AOR",
    "ul_add": "adds a contact to an AOR",
    "ul_rm": "removes an AOR with all its contacts",
    "ul_rm_contact": "removes one contact of an AOR",
    "ul_flush": "flushes the usrloc memory cache to the database",
    "ul_sync": "rewrites the usrloc database table from memory",
    "ul_cluster_sync": "requests a usrloc sync from the cluster",
    "nh_enable_ping": "gets or sets (status) NAT pinging",
    "rand_get_prob": "returns the probability used by rand_event()",
    "rand_set_prob": "sets the probability used by rand_event()",
    "rand_reset_prob": "resets the probability used by rand_event() to its default",
    "check_config_hash": "checks whether the config file changed since start",
    "get_config_hash": "returns the hash of the config file",
    "shv_get": "gets one or all shared variables ($shv)",
    "shv_set": "sets a shared variable ($shv) to an int or str value",
    "t_hash": "dumps the transaction hash table sizes (large: 65536 entries)",
    "t_uac_cancel": "cancels a pending INVITE transaction by callid and cseq",
    "t_uac_dlg": "sends an arbitrary SIP request from OpenSIPS",
    "t_reply": "sends a reply to a pending transaction",
    "trace": "gets or sets (mode) the tracing state of a tracer instance",
    "trace_start": "starts tracing to a URI (e.g. a HEP collector)",
    "trace_stop": "stops a tracer instance",
    "tls_trace": "gets or sets TLS tracing",
    "teardown": "tears down a call by callid (rtpengine)",
    "rtpengine_enable": "enables or disables an rtpengine node",
    "rtpengine_reload": "reloads rtpengine nodes",
    "rtpengine_show": "lists rtpengine nodes",
    "reg_list": "lists uac_registrant registrations",
    "reg_reload": "reloads registrations",
    "reg_enable": "enables a registration",
    "reg_disable": "disables a registration",
    "reg_force_register": "forces a re-REGISTER of a registration",
    "domain_dump": "lists the domain table",
    "domain_reload": "reloads the domain table",
    "dp_reload": "reloads dialplan rules",
    "dp_show_partition": "shows dialplan partitions",
    "dp_translate": "translates an input string with a dialplan id",
    "cc_list_agents": "lists call-center agents",
    "cc_list_calls": "lists call-center calls",
    "cc_list_flows": "lists call-center flows",
    "cc_list_queue": "lists the call-center queue",
    "cc_reload": "reloads call-center data",
    "cc_reset_stats": "resets call-center statistics",
    "cc_agent_login": "logs a call-center agent in or out",
    "cc_dispatch_call_to_agent": "dispatches a queued call to an agent",
    "cc_internal_call_dispatching": "gets or sets internal call dispatching",
    "pres_phtable_list": "lists the presentity hash table",
    "subs_phtable_list": "lists the subscription hash table",
    "pres_expose": "exposes presentities of an event",
    "refresh_watchers": "refreshes the watchers of a presentity",
    "refreshWatchers": "refreshes the watchers of a presentity (old name)",
    "cleanup": "cleans expired presence data",
    "pua_subscribe": "sends a SUBSCRIBE via pua",
    "httpd_list_root_path": "lists the httpd root paths",
    "cr_dump_routes": "dumps carrierroute routes",
    "cr_reload_routes": "reloads carrierroute",
    "cr_activate_host": "activates a carrierroute host",
    "cr_deactivate_host": "deactivates a carrierroute host",
    "cr_add_host": "adds a carrierroute host",
    "cr_delete_host": "deletes a carrierroute host",
    "cr_replace_host": "replaces a carrierroute host",
    "ua_session_list": "lists B2B UA sessions",
    "ua_session_terminate": "ends a B2B UA session",
    "ua_session_client_start": "starts a B2B UA client session",
    "ua_session_reply": "replies within a B2B UA session",
    "ua_session_update": "sends a request within a B2B UA session",
    "b2be_list": "lists B2B entities",
    "b2b_bridge": "bridges a B2BUA call to a new URI",
    "b2b_trigger_scenario": "starts a B2B scenario",
}

# The versions the catalog covers, oldest first; the default is what a server whose version is
# unknown is assumed to run.
VERSIONS = ("3.4.18", "3.6.8", "4.0.1")
DEFAULT_VERSION = "3.6.8"

# 4.0.1 renamed these 13 commands without keeping their 3.x name as an alias (their
# mi_export_t alias list is empty: the old name answers -32601); same module, same recipes
# (captures/opensips-4.0.1/diff-vs-3.6.md, "Renamed WITHOUT alias").
RENAMED_WITHOUT_ALIAS_4X: dict[str, str] = {
    "bdb_reload": "db_berkeley:reload",
    "domain_dump": "domain:dump",
    "domain_reload": "domain:reload",
    "flat_rotate": "db_flatstore:rotate",
    "nh_enable_ping": "nathelper:enable_ping",
    "pike_list": "pike:list",
    "pike_rm": "pike:rm",
    "rtpengine_enable": "rtpengine:enable",
    "rtpengine_reload": "rtpengine:reload",
    "rtpengine_show": "rtpengine:show",
    "rtpproxy_enable": "rtpproxy:enable",
    "rtpproxy_reload": "rtpproxy:reload",
    "rtpproxy_show": "rtpproxy:show",
}

# Commands that exist only from 4.0 (no 3.x command maps to them): their level, and why.
# Each keeps its 4.0 name as its catalog name.
LEVELS_4X: dict[str, tuple[str | dict[str, str], str]] = {
    "cachedb_redis:redis_cluster_info": (R, "lists the Redis cluster's nodes and slots"),
    "cachedb_redis:redis_cluster_refresh": (
        W,
        "re-reads the cluster topology, changing where keys are sent",
    ),
    "cachedb_redis:redis_ping_nodes": (R, "pings the Redis nodes and reports who answers"),
    "core:profiling_proc": (
        {"": R, "id": R, "pid": R, "level": A, "id,level": A, "pid,level": A},
        "lists the processes' profiling level; with level it sets it (as log_level: admin)",
    ),
    "presence_callinfo:list_lines": (R, "lists the call-info lines and their state"),
    "presence_callinfo:release_line": (
        D,
        "releases a seized line: other users see it free while a call may still use it",
    ),
    "presence_callinfo:set_log_level": (
        {"": R, "log_level": A},
        "reads the module's log level; with log_level it changes logging (as log_level)",
    ),
    "tcp:close": (D, "closes a TCP connection: calls and registrations over it break"),
    "uac_registrant:delete": (D, "removes a registration: the peer stops reaching us"),
    "uac_registrant:upsert": (W, "adds or changes a registration (as reg_enable)"),
    "bins:trace": (
        {"": R, "trace_mode": W},
        "proto_bins' tracing switch, same rule as tls_trace (which 4.0 also names it)",
    ),
}


def level_of(name: str, recipe: list[str]) -> str:
    """The policy level of one recipe; a command missing from the policy is admin."""
    rule = LEVELS[name] if name in LEVELS else LEVELS_4X[name][0] if name in LEVELS_4X else A
    if isinstance(rule, str):
        return rule
    return rule[",".join(recipe)]


def load_facts(version: str) -> dict[str, dict[str, object]]:
    """The captured commands of one version."""
    path = ROOT / "captures" / f"opensips-{version}" / "commands.json"
    commands: dict[str, dict[str, object]] = json.loads(path.read_text("utf-8"))["commands"]
    return commands


def map_4x(facts_36: dict[str, object], facts_4x: dict[str, dict[str, object]]) -> dict[str, str]:
    """4.x name -> the catalog name: its 3.6 name, else (a command new in 4.x) itself.

    A 4.x command is the 3.6 command named by one of its aliases, else by its local name
    (same module), else by RENAMED_WITHOUT_ALIAS_4X. When two 4.x commands claim the same 3.6
    name (4.0.1's ``tls:trace`` and ``bins:trace`` both keep the alias ``tls_trace``), the one
    from the 3.6 command's source module keeps it and the other is a command of its own.
    """
    renamed = {new: old for old, new in RENAMED_WITHOUT_ALIAS_4X.items()}
    mapping: dict[str, str] = {}
    claimed: dict[str, list[str]] = {}
    for name, entry in sorted(facts_4x.items()):
        aliases = [str(a) for a in entry.get("aliases", [])]  # type: ignore[attr-defined]
        old = next((a for a in aliases if a in facts_36), None)
        if old is None and name in renamed:
            old = renamed[name]
        if old is None and entry["local_name"] in facts_36:
            old = str(entry["local_name"])
        if old is None:
            mapping[name] = name
        else:
            claimed.setdefault(old, []).append(name)
    for old, names in claimed.items():
        if len(names) == 1:
            mapping[names[0]] = old
            continue
        module_36 = str(facts_36[old]["module"])  # type: ignore[index]
        owner = [n for n in names if str(facts_4x[n]["source_file"]).split("/")[1] == module_36]
        if len(owner) != 1:
            raise SystemExit(f"cannot tell which of {names} is 3.6's {old}")
        for n in names:
            mapping[n] = old if n == owner[0] else n
    return mapping


def main() -> None:
    facts = {v: load_facts(v) for v in VERSIONS}
    facts_36 = facts["3.6.8"]
    unknown = set(LEVELS) - set(facts_36)
    if unknown:
        raise SystemExit(f"policy names commands that do not exist: {sorted(unknown)}")
    missing = set(facts_36) - set(LEVELS)
    if missing:
        raise SystemExit(f"no level policy for: {sorted(missing)}")
    for v in VERSIONS:
        if v.startswith("3.") and set(facts[v]) - set(facts_36):
            raise SystemExit(
                f"{v} has commands 3.6.8 lacks: {sorted(set(facts[v]) - set(facts_36))}"
            )
    to_catalog_4x = map_4x(facts_36, facts["4.0.1"])
    new_4x = sorted(n for n, c in to_catalog_4x.items() if n == c)
    if set(new_4x) != set(LEVELS_4X):
        raise SystemExit(
            f"LEVELS_4X must name exactly the new 4.x commands: {new_4x} vs {sorted(LEVELS_4X)}"
        )
    servers = {
        v: json.loads((ROOT / "captures" / f"opensips-{v}" / "commands.json").read_text("utf-8"))[
            "server"
        ]
        for v in VERSIONS
    }
    out: dict[str, object] = {
        "about": "Every MI command of OpenSIPS 3.4.18, 3.6.8 and 4.0.1 with an access level per "
        "recipe (a command keeps its level in every version). Keyed by the 3.x name (a command "
        "new in 4.x by its 4.x name); 'versions' holds each version's name, aliases and recipes. "
        "Generated by scripts/build_catalog.py from captures/opensips-<version>/commands.json.",
        "server": servers[DEFAULT_VERSION],
        "default_version": DEFAULT_VERSION,
        "versions": {v: {"server": servers[v], "count": len(facts[v])} for v in VERSIONS},
        "commands": {},
    }
    per_name: dict[str, dict[str, dict[str, object]]] = {}
    for v in VERSIONS:
        for name, entry in facts[v].items():
            key = to_catalog_4x[name] if v.startswith("4.") else name
            form: dict[str, object] = {
                "name": name,
                "module": entry["module"],
                "recipes": entry["recipes"],
                "seen_live": entry.get("seen_live", False),
            }
            if v.startswith("4."):
                form["local_name"] = entry["local_name"]
                form["aliases"] = entry.get("aliases", [])
            if entry.get("flags"):
                form["flags"] = entry["flags"]
            per_name.setdefault(key, {})[v] = form
    commands: dict[str, object] = {}
    for name in sorted(per_name):
        forms = per_name[name]
        base = facts_36.get(name) or facts["4.0.1"][name]
        help_text = str(base.get("help", ""))
        if not help_text or help_text == "not available for this command":
            help_text = SUMMARIES.get(name, "")
            if not help_text and name in LEVELS_4X:
                help_text = LEVELS_4X[name][1]
        recipes: list[list[str]] = []
        for v in (DEFAULT_VERSION, *VERSIONS):
            for recipe in forms.get(v, {}).get("recipes", []):  # type: ignore[attr-defined]
                if recipe not in recipes:
                    recipes.append(recipe)
        aliases: list[str] = []
        for v in VERSIONS:
            form = forms.get(v)
            if form is None:
                continue
            for other in (form["name"], *form.get("aliases", [])):  # type: ignore[misc]
                if other != name and other not in aliases and other not in per_name:
                    aliases.append(str(other))
        entry_out: dict[str, object] = {
            "module": base["module"],
            "summary": help_text,
            "recipes": [{"params": r, "level": level_of(name, r)} for r in recipes],
            "check_after": CHECK_AFTER.get(name),
            "aliases": aliases,
            "seen_live": bool(base.get("seen_live", False)),
            "versions": forms,
        }
        if name in LEVELS_4X:
            entry_out["level_reason"] = LEVELS_4X[name][1]
        commands[name] = entry_out
    out["commands"] = commands
    OUT.write_text(json.dumps(out, indent=1, sort_keys=False) + "\n", "utf-8")
    print(f"wrote {len(commands)} commands to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
