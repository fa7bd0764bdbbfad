// End-to-end check of crm-odata with @odata/client (npm, OData V2/V4 client) in V4 mode.
// Run by tests/clients_e2e.rs with CRM_ODATA_URL (service root, trailing slash) and
// CRM_ODATA_TOKEN; exits non-zero on any mismatch.
import { OData } from "@odata/client";

const base = process.env.CRM_ODATA_URL;
const token = process.env.CRM_ODATA_TOKEN;
const bearer = { Authorization: `Bearer ${token}` };

function check(cond, what) {
  if (!cond) {
    console.error(`FAIL: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

async function raw(path, headers = {}) {
  const r = await fetch(base + path, { headers: { ...bearer, ...headers } });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
  return r;
}

// Basic credential with the token as the password, as Excel's dialog sends it.
const client = OData.New4({
  serviceEndpoint: base,
  credential: { username: "node", password: token },
});

// $metadata: the CSDL the client's V4 mode is built for.
const meta = await (await raw("$metadata")).text();
check(meta.includes('Version="4.0"') && meta.includes('EntitySet Name="Contacts"'), "$metadata is CSDL 4.0 with Contacts");

const contacts = client.getEntitySet("Contacts");
const leads = client.getEntitySet("Leads");
const total = Number(await (await raw("Contacts/$count")).text());

// Count through the client ($count=true → @odata.count).
check((await contacts.count()) === total, `count through the client is ${total}`);

// Client-driven paging with $top/$skip, ordered by key.
const seen = [];
for (let skip = 0; ; skip += 40) {
  const page = await contacts.query(client.newOptions().select(["ContactId", "Surname"]).orderby("ContactId").top(40).skip(skip));
  seen.push(...page.map((c) => c.ContactId));
  if (page.length < 40) break;
}
check(seen.length === total && new Set(seen).size === total, "all contacts via $top/$skip pages, no duplicates");

// Server-driven paging: a query without $top returns the first page; follow nextLinks.
const first = await contacts.query(client.newOptions().select("ContactId"));
check(first.length > 0 && first.length < total, `first server page has ${first.length} of ${total}`);
let next = (await (await raw("Contacts?$select=ContactId")).json())["@odata.nextLink"];
let followed = first.length;
while (next) {
  const r = await fetch(next, { headers: bearer });
  const doc = await r.json();
  followed += doc.value.length;
  next = doc["@odata.nextLink"];
}
check(followed === total, "nextLinks add up to the total");

// Filters built with the client's filter builder.
const surname = (await contacts.query(client.newOptions().top(1).select("Surname")))[0].Surname;
const same = await contacts.query(client.newOptions().filter(client.newFilter().property("Surname").eq(surname)));
check(same.length >= 1 && same.every((c) => c.Surname === surname), `eq filter on Surname '${surname}'`);
const hot = await leads.query(client.newOptions().filter(client.newFilter().property("Guttometer").ge(50)).select(["LeadId", "Guttometer"]).top(1000));
const hotCount = Number(await (await raw("Leads/$count?$filter=Guttometer%20ge%2050")).text());
check(hot.every((l) => l.Guttometer >= 50), "ge filter on Int32");
check(hot.length === Math.min(hotCount, 50), "filtered first page matches the server's count");

// Expand.
const withDiv = await contacts.query(client.newOptions().top(5).expand("Division"));
check(withDiv.length === 5 && withDiv.every((c) => c.Division && c.Division.DivisionId === c.DivisionId), "expanded Division");
const withLeads = await contacts.query(client.newOptions().top(10).expand("Leads"));
check(withLeads.every((c) => Array.isArray(c.Leads) && c.Leads.every((l) => l.ContactId === c.ContactId)), "expanded Leads collections");

// Data aggregation ($apply) and computed properties ($compute) through the client's options.
const byStatus = await leads.query(client.newOptions().apply("groupby((StatusId),aggregate($count as N))"));
const leadTotal = Number(await (await raw("Leads/$count")).text());
check(byStatus.length > 1 && byStatus.reduce((s, g) => s + g.N, 0) === leadTotal, "$apply: the groups' counts add up to all leads");
const doubled = await leads.query(client.newOptions().custom("$compute", "Guttometer mul 2 as Twice").select(["LeadId", "Guttometer", "Twice"]).top(20));
check(doubled.length === 20 && doubled.every((l) => l.Twice === (l.Guttometer === null ? null : 2 * l.Guttometer)), "$compute: Twice is twice Guttometer");

// By key.
const one = await contacts.retrieve(seen[0]);
check(one.ContactId === seen[0] && typeof one.Surname === "string", `Contacts(${seen[0]}) by key`);
check(/(Z|[+-]\d\d:\d\d)$/.test(one.Created), "DateTimeOffset has an offset");
const status = await client.getEntitySet("LeadStatus").retrieve("WON");
check(status.Code === "WON", "LeadStatus('WON') by string key");
// $batch in both formats the client writes: multipart (OData 4.0) and JSON (4.01). The
// client puts the URL in the multipart request line unencoded (`$orderby=LeadId desc`).
const batch = () => Promise.all([
  client.newBatchRequest({ collection: "Contacts", id: seen[0], params: client.newOptions().select(["ContactId", "Surname"]) }),
  client.newBatchRequest({ collection: "Leads", params: client.newOptions().select("LeadId").top(3).orderby("LeadId") }),
  client.newBatchRequest({ collection: "Contacts", id: 999999 }),
]);
const alone = await (await raw("Leads?$select=LeadId&$top=3&$orderby=LeadId%20desc")).json();
for (const [format, answers] of [
  ["multipart", await client.execBatchRequests(await batch())],
  ["JSON", await client.execBatchRequestsJson(await batch())],
]) {
  check(answers.length === 3, `${format} $batch: three answers`);
  const [a, b, c] = answers;
  const contact = await a.json();
  check(a.status === 200 && contact.ContactId === seen[0] && contact.Surname === one.Surname, `${format} $batch: Contacts(${seen[0]})`);
  const page = await b.json();
  check(b.status === 200 && JSON.stringify(page.value) === JSON.stringify(alone.value), `${format} $batch: the same page of leads as alone`);
  check(c.status === 404, `${format} $batch: an unknown key is 404 inside the batch`);
}
console.log("@odata/client: all checks passed");
