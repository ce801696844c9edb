#!/usr/bin/env node
// The origin agent (edgelb-agent --config agent.json) is not part of this version yet.
process.stderr.write("edgelb-agent is not available in this version yet\n");
process.exit(2);
