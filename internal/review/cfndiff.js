// cfndiff.js: the CDK CLI's own diff engine (@aws-cdk/cloudformation-diff,
// pinned in package.json) on two templates, printed as JSON for package
// review. Run as `node -e <this file> <input.json>` with the module root as
// the working directory, so require() finds its node_modules.
//
// input.json: {"base": "<template path>", "head": "<template path>",
// "paths": {"<logical id>": "/<stack>/<construct path>"}}.
'use strict';

const fs = require('fs');
const { Writable } = require('stream');
const cfndiff = require('@aws-cdk/cloudformation-diff');

const input = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const base = JSON.parse(fs.readFileSync(input.base, 'utf8'));
const head = JSON.parse(fs.readFileSync(input.head, 'utf8'));
const diff = cfndiff.fullDiff(base, head);

// capture renders one of the formatter's outputs as plain text, without
// colours (chalk is off without a TTY; the strip makes sure).
function capture(format) {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  format(stream);
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

const resources = [];
diff.resources.forEachDifference((logicalId, change) => {
  const properties = [];
  const other = [];
  change.forEachDifference((type, name, value) => {
    if (type === 'Property') {
      properties.push({ name, impact: value.changeImpact || 'WILL_UPDATE' });
    } else {
      other.push(name);
    }
  });
  resources.push({
    logicalId,
    oldType: change.oldResourceType || '',
    newType: change.newResourceType || '',
    kind: change.isAddition ? 'added' : change.isRemoval ? 'removed' : 'modified',
    impact: change.changeImpact,
    properties,
    other,
  });
});

// The added statements are what broadens permissions: each as a line.
const broadening = [];
const fmt = new cfndiff.Formatter(new Writable({ write(_c, _e, done) { done(); } }), input.paths, diff);
const rows = fmt.deepSubstituteBracedLogicalIds(diff.iamChanges.summarizeStatements());
for (const row of rows.slice(1)) {
  // Lists (actions) on one line with commas; a condition's JSON on one line.
  const cells = row.map((c, i) => String(c).replace(/\x1b\[[0-9;]*m/g, '')
    .replace(i === 5 ? /\s*\n\s*/g : /\n/g, i === 5 ? ' ' : ', '));
  if (cells[0] === '+') {
    broadening.push(`${cells[2]} ${cells[3]} on ${cells[1]} for ${cells[4]}${cells[5] ? ' when ' + cells[5] : ''}`);
  }
}

const outputs = [];
diff.outputs.forEachDifference((id, change) => {
  outputs.push({ id, kind: change.isAddition ? 'added' : change.isRemoval ? 'removed' : 'modified' });
});

process.stdout.write(JSON.stringify({
  differenceCount: diff.differenceCount,
  permissionsBroadened: diff.permissionsBroadened,
  permissionsAnyChanges: diff.permissionsAnyChanges,
  resources,
  outputs,
  broadening,
  security: capture((s) => cfndiff.formatSecurityChanges(s, diff, input.paths)),
  full: capture((s) => cfndiff.formatDifferences(s, diff, input.paths)),
}));
