-- Seed rows of the lab (from lab/reference/init_db.sh), loaded by lab/lab.py after the
-- schema scripts of the OpenSIPS source (scripts/sqlite/*-create.sql).
-- @PORT:N@ is port N + LAB_PORT_OFFSET: nothing listens on the destinations.
-- dispatcher: 2 destinations in set 1 (nothing listens there; probing off)
INSERT INTO dispatcher (setid, destination, state, probe_mode, weight, priority, attrs, description)
  VALUES (1, 'sip:127.0.0.1:@PORT:5081@', 0, 0, '1', 0, 'attr1', 'ds dst A');
INSERT INTO dispatcher (setid, destination, state, probe_mode, weight, priority, attrs, description)
  VALUES (1, 'sip:127.0.0.1:@PORT:5082@', 0, 0, '1', 0, 'attr2', 'ds dst B');
-- load_balancer: 2 destinations in group 1
INSERT INTO load_balancer (group_id, dst_uri, resources, probe_mode, description)
  VALUES (1, 'sip:127.0.0.1:@PORT:5083@', 'pstn=10;vm=5', 0, 'lb dst A');
INSERT INTO load_balancer (group_id, dst_uri, resources, probe_mode, description)
  VALUES (1, 'sip:127.0.0.1:@PORT:5084@', 'pstn=20', 0, 'lb dst B');
-- drouting: 1 gateway, 1 carrier, 1 rule
INSERT INTO dr_gateways (gwid, type, address, strip, pri_prefix, probe_mode, state, description)
  VALUES ('gw1', 1, '127.0.0.1:@PORT:5085@', 0, '', 0, 0, 'test gateway');
INSERT INTO dr_carriers (carrierid, gwlist, flags, sort_alg, state, description)
  VALUES ('carrier1', 'gw1', 0, 'N', 0, 'test carrier');
INSERT INTO dr_rules (groupid, prefix, timerec, priority, routeid, gwlist, sort_alg, description)
  VALUES ('1', '49', '', 0, '', '#carrier1', 'N', 'test rule');
-- permissions: 1 address row
INSERT INTO address (grp, ip, mask, port, proto, pattern, context_info)
  VALUES (1, '127.0.0.1', 32, 0, 'any', NULL, 'loopback');
-- domain
-- 3.4's domain table has no accept_subdomain column (3.6's has; 3.5 untested)
@IF>=3.5@ INSERT INTO domain (domain, attrs, accept_subdomain) VALUES ('opensips.local', NULL, 0);
@IF<3.5@ INSERT INTO domain (domain, attrs) VALUES ('opensips.local', NULL);
-- dialplan: dpid 1, regex rule 0NNN -> +49NNN
INSERT INTO dialplan (dpid, pr, match_op, match_exp, match_flags, subst_exp, repl_exp, disabled, attrs)
  VALUES (1, 1, 1, '^0[0-9]+$', 0, '^0([0-9]+)$', '+49\1', 0, 'de');
-- clusterer: this node (1) + one peer (2) on loopback that is not running
INSERT INTO clusterer (cluster_id, node_id, url, state, no_ping_retries, priority, sip_addr, flags, description)
  VALUES (1, 1, 'bin:127.0.0.1:@PORT:5566@', 1, 3, 50, NULL, NULL, 'this node');
INSERT INTO clusterer (cluster_id, node_id, url, state, no_ping_retries, priority, sip_addr, flags, description)
  VALUES (1, 2, 'bin:127.0.0.1:@PORT:5567@', 1, 3, 50, NULL, NULL, 'absent peer');
-- call_center: 1 flow, 1 agent
INSERT INTO cc_flows (flowid, priority, skill, prependcid, message_welcome, message_queue)
  VALUES ('support', 256, 'support', 'SUP', 'sip:welcome@127.0.0.1:@PORT:5097@', 'sip:queue@127.0.0.1:@PORT:5097@');
-- (call_center refuses to start if msrp_location is NULL: "empty str column: msrp_location")
INSERT INTO cc_agents (agentid, location, logstate, msrp_location, skills)
  VALUES ('agent1', 'sip:agent1@127.0.0.1:@PORT:5096@', 0, 'sip:agent1@127.0.0.1:@PORT:5096@', 'support');
-- carrierroute: 1 carrier tree + 1 route
INSERT INTO route_tree (id, carrier) VALUES (1, 'default');
INSERT INTO carrierroute (carrier, domain, scan_prefix, flags, mask, prob, strip, rewrite_host, description)
  VALUES (1, 'proxy', '49', 0, 0, 1.0, 0, '127.0.0.1:@PORT:5085@', 'cr to gw');
-- fraud_detection: 1 rule in profile 1
INSERT INTO fraud_detection (profileid, prefix, cpm_warning, cpm_critical, concurrent_calls_warning, concurrent_calls_critical)
  VALUES (1, '49', 50, 100, 10, 20);
-- uac_registrant: 1 registration towards a loopback port where nothing listens
INSERT INTO registrant (registrar, aor, username, password, binding_URI, expiry, state)
  VALUES ('sip:127.0.0.1:@PORT:5099@', 'sip:trunk@127.0.0.1', 'trunk', 'secret', 'sip:trunk@127.0.0.1:@PORT:5060@', 600, 0);
