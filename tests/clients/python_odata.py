"""End-to-end check of crm-odata with python-odata (OData v4 client that reflects
$metadata into entity classes). Run by tests/clients_e2e.rs with CRM_ODATA_URL (service
root, trailing slash) and CRM_ODATA_TOKEN set; exits non-zero on any mismatch."""

import os
import sys
import urllib.request

from requests.auth import HTTPBasicAuth
from odata import ODataService

base = os.environ["CRM_ODATA_URL"]
token = os.environ["CRM_ODATA_TOKEN"]


def raw(path):
    """The service's own answer, read without the library, to compare against."""
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as r:
        return r.read().decode()


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


# Basic auth with the token as the password, as Excel's credential dialog sends it.
service = ODataService(base, auth=HTTPBasicAuth("python", token), reflect_entities=True, quiet_progress=True)
# Reflected classes are keyed by entity set name.
check({"Contacts", "Leads", "Divisions"} <= set(service.entities), "entity sets reflected from $metadata")
Contact = service.entities["Contacts"]
Lead = service.entities["Leads"]
check(all(hasattr(Contact, p) for p in ("ContactId", "Surname", "Created", "Division")), "properties and navigation reflected")

# Paging: iterating a query follows every @odata.nextLink (the test server pages at 50).
# With select() the library yields plain dicts, otherwise entity instances.
everyone = service.query(Contact).select(Contact.ContactId, Contact.Surname).all()
ids = [c["ContactId"] for c in everyone]
total = int(raw("Contacts/$count"))
check(len(ids) == total, f"all {total} contacts across pages")
check(len(set(ids)) == len(ids), "no duplicates across pages")
check(service.query(Contact).count() == total, "/$count through the client")

# Filters.
surname = everyone[0]["Surname"]
smiths = service.query(Contact).filter(Contact.Surname == surname).all()
check(len(smiths) >= 1 and all(c.Surname == surname for c in smiths), "eq filter")
check(len(smiths) == sum(1 for c in everyone if c["Surname"] == surname), "eq filter finds every match")
q = service.query(Lead).filter(Lead.Guttometer >= 50).select(Lead.LeadId, Lead.Guttometer)
hot = q.all()
check(all(l["Guttometer"] >= 50 for l in hot), "ge filter on Int32")
check(len(hot) == int(raw("Leads/$count?$filter=Guttometer%20ge%2050")), "filtered count matches the server")

# Expand: single-valued navigation arrives as a related entity.
with_div = service.query(Contact).expand(Contact.Division).limit(5).all()
check(len(with_div) == 5, "$top through limit()")
for c in with_div:
    check(c.Division is not None and c.Division.DivisionId == c.DivisionId, f"expanded Division of contact {c.ContactId}")

# By key.
first = service.query(Contact).get(ids[0])
check(first.ContactId == ids[0], "by-key read through the client")
one = service.default_context.connection.execute_get(base + f"Contacts({ids[0]})")
check(one["ContactId"] == ids[0] and one["Surname"] == first.Surname, "Contacts(key) read")
check(first.Created is not None and first.Created.tzinfo is not None, "DateTimeOffset parsed with its offset")
print("python-odata: all checks passed")
