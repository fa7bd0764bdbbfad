// Baseline for benches/parse.rs: the npm `odata-v4-parser` on the same request targets
// (resource path + query options, as `parse_target` does). Prints `name ns/op`.
'use strict';
const parser = require('odata-v4-parser');

// Keep in sync with QUERIES in ../parse.rs.
const QUERIES = [
  ['long', "Contacts?$select=Title,Forename,Surname,Email,StatusFlag&$filter=contains(email,'@prospectsoft.com') and StatusFlag eq 'A'&$expand=Leads($select=Description,Created,StatusFlag;$filter=StatusFlag eq 'A' and Status/DeadFlag eq 0;$expand=Status($select=Description))"],
  ['key_select_top', 'Contacts(272970)?$select=ContactId,Forename,Surname&$top=50'],
  ['expand_nested', 'Contacts?$expand=Division($select=Name;$expand=Company)'],
  ['filter_contains_orderby', "Contacts?$filter=contains(Email, '@prospectsoft.com')&$orderby=created"],
  ['filter_eq', "Contacts?$filter=Forename eq 'Johnson'"],
  ['filter_and_endswith', "Customers?$filter=Country eq 'UK' and endswith(CompanyName,'s')"],
  ['orderby_top', 'Products?$orderby=ReleaseDate asc&$top=5'],
  ['top_skip', 'Contacts?$top=50&$skip=1'],
  ['entity_set', 'Contacts'],
];

function parseTarget(target) {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const out = { path: parser.resourcePath(path) };
  if (q >= 0) out.query = parser.query(target.slice(q + 1));
  return out;
}

const only = process.argv[2];
for (const [name, target] of QUERIES) {
  if (only && name !== only) continue;
  parseTarget(target); // throws if the JS parser rejects it
  let sink = 0;
  for (let i = 0; i < 20000; i++) sink += parseTarget(target) ? 1 : 0; // warm up the JIT
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const n = 20000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += parseTarget(target) ? 1 : 0;
    const ns = Number(process.hrtime.bigint() - t0) / n;
    if (ns < best) best = ns;
  }
  if (sink < 0) console.log(sink);
  console.log(`${name} ${best.toFixed(0)} ns/op`);
}
