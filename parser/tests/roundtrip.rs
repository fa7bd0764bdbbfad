//! `parse(print(tree)) == tree` over hand-picked inputs and every positive ABNF case.

use odata_parser::*;
use serde_json::Value;

const TARGETS: &[&str] = &[
    "Contacts?$filter=a add b mul c eq (a add b) mul c",
    "Contacts?$filter=a sub (b sub c) eq a sub b sub c",
    "Contacts?$filter=not (a eq 1 or b eq 2) and c",
    "Contacts?$filter=-a eq -(5) and - -x ne --5",
    "Contacts?$filter=x in ('a','b''c') and y in [1,2] and z in (Name) and w in @list&@list=[1,2]",
    "Contacts?$filter=Leads/any(l:l/StatusFlag eq 'A' and l/Status/all(s:s/Dead eq false)) or Leads/any()",
    "Contacts?$filter=contains(Email,'100%25 %26 %231 / ?') and Name eq 'O''Neil'",
    "Contacts?$filter=Price le 2.5e10 and Qty ge -INF and Ratio ne NaN and D eq 12345678901234567890",
    "Contacts?$filter=Created gt 2024-01-31T10:00:00.5+01:00 and Day eq 2024-01-31 and T lt 10:00",
    "Contacts?$filter=Span gt duration'P1DT2H' and Span lt P2D and G eq 01234567-89ab-cdef-0123-456789abcdef",
    "Contacts?$filter=Bin eq binary'Zm9vYmFy' and Style has Sales.Pattern'Yellow,Red'",
    "Contacts?$filter=Location eq geography'SRID=4326;Point(1.5 2)'",
    "Contacts?$filter=$it/Name eq $root/Contacts(1)/Name and @Core.Messages/any(m:m/x eq 1)",
    "Contacts?$filter=cast(Division,Model.Company) ne null and isof(Model.Person)",
    "Contacts?$filter=substring(Name,1,2) eq 'ab' and now() gt maxdatetime() and round(1.5) eq 2",
    "Contacts?$filter=Model.Fn(a=1,b=@p)/Name eq 'x' and Items(1)/Name eq 'y'&@p=3",
    "Contacts?$compute=case(X gt 0:1,X lt 0:-1,true:0) as Sign,Price mul Qty as Total",
    "Leads?$apply=filter(Guttometer ge 50)/groupby((StatusId,Status/Description),aggregate(Value with sum as Total,$count as N))/filter(N gt 2)",
    "Leads?$apply=aggregate(Value mul 2 with average as A,Guttometer with countdistinct as D)",
    "Leads?$apply=groupby((StatusId),aggregate(Value with sum as Total))/orderby(Total desc,StatusId)/skip(1)/top(3)/filter(Total gt 0)",
    "Contacts?$apply=search(\"Ltd\" OR (Smith NOT Jones))/groupby((Surname),aggregate($count as N))",
    "Leads?$apply=topcount(5,Value mul Guttometer)/groupby((StatusId),aggregate($count as N))/bottomcount(2,N)",
    "Leads?$apply=compute(year(Created) as Y,Value mul 2 as V)/groupby((Y),aggregate(V with sum as S))",
    "Leads?$apply=groupby((rollup(DivisionId,Status/Description),SizeId,rollup($all,TypeId,PipelineId)),aggregate($count as N))",
    "Leads?$apply=groupby((SizeId,rollup($all,TypeId)))",
    "Leads?$apply=groupby((ContactId),filter(Value gt 0)/topcount(2,Value)/aggregate(Value with sum as Top2))/filter(Top2 gt 10)",
    "Leads?$apply=groupby((StatusId),topsum(1000,Value))",
    "Leads?$apply=aggregate(Value with sum from ContactId with average from DivisionId,Status/Code with max as M)",
    "Leads?$apply=groupby((StatusId),aggregate($count from ContactId with max as Most))",
    "Contacts?$filter=Obj eq {\"a\":[1,\"two\",{\"b\":null}],\"c\":true}",
    "Contacts?$orderby=Surname desc,Forename,Status/Name asc",
    "Contacts?$search=blue AND (green OR \"light red\") NOT yellow",
    "Contacts?$search=a%3Bb OR c",
    "Contacts?$select=*,Ns.*,Address/Street,Fn(A,B),Leads($select=Description;$top=2)",
    "Contacts?$expand=*($levels=max),Leads/$ref($filter=x eq 1),Leads/$count($search=x),Division($levels=3;$expand=Company($select=Name;$orderby=Name desc;$skip=1;$count=true))",
    "Contacts?$top=5&$skip=10&$count=false&$skiptoken=abc%26def&$format=application/json;odata.metadata=full",
    "Contacts?$index=-3&$schemaversion=1.0&$deltatoken=x&$at=2020-01-01&custom=some%20value&!flag",
    "Contacts(ContactId=1,Other='x%2Fy')/Leads(5)/Status/$value",
    "Customers/O'Neil/Orders/1",
    "Products/$filter(Price gt 5)/$each",
    "$crossjoin(Customers,Orders)?$filter=Customers/Id eq Orders/CustomerId",
    "$entity/Model.Customer?$id=Customers(1)&$select=Name",
    "$all?$search=red",
    "$metadata",
    "$batch",
    "?$format=json",
    "Contacts?$filter=Name eq 'tab\tand\nline'",
    "Contacts?$filter=contains(Name,'\u{394}')&$search=%CE%94",
    "Contacts?$filter=Leads/aggregate(Value with sum) gt 5 and Company/Contacts/aggregate($count) ge 2&$orderby=Leads/aggregate($it/Rate mul Value with average) desc",
    "Contacts?$compute=Leads/aggregate(Value with sum from StatusId with max) as T,$these/aggregate(Value with countdistinct) as N",
];

fn round_trip(input: &str) {
    let Ok(tree) = parse_target(input) else {
        return;
    };
    let printed = tree.to_string();
    let again = parse_target(&printed)
        .unwrap_or_else(|e| panic!("{input:?} printed as {printed:?} does not parse: {e}"));
    assert_eq!(again, tree, "{input:?} printed as {printed:?}");
}

#[test]
fn hand_picked_targets_round_trip() {
    for t in TARGETS {
        parse_target(t).unwrap_or_else(|e| panic!("{t:?}: {e}"));
        round_trip(t);
    }
}

#[test]
fn printing_is_canonical() {
    let u =
        parse_target("Contacts?$Filter=Name EQ 'x' AND NOT(Age Gt 3)&top=5&$SELECT=Name").unwrap();
    assert_eq!(
        u.to_string(),
        "Contacts?$select=Name&$filter=Name eq 'x' and not (Age gt 3)&$top=5"
    );
    let e = parse_expr("(a add b) mul (c)").unwrap();
    assert_eq!(e.to_string(), "(a add b) mul c");
    let e = parse_expr("a or (b or c)").unwrap();
    assert_eq!(e.to_string(), "a or (b or c)");
}

#[test]
fn abnf_positive_cases_round_trip() {
    let path = format!(
        "{}/tests/data/odata-abnf-testcases.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut n = 0;
    for case in v["TestCases"].as_array().unwrap() {
        if case.get("FailAt").is_some() {
            continue;
        }
        let input = case["Input"].as_str().unwrap();
        match case["Rule"].as_str().unwrap() {
            "odataRelativeUri" | "resourcePath" => round_trip(input),
            "queryOptions" | "filter" | "expand" | "select" | "orderby" | "search" | "compute" => {
                round_trip(&format!("X?{input}"))
            }
            "commonExpr" | "boolCommonExpr" | "firstMemberExpr" | "primitiveLiteral" => {
                if let Ok(e) = parse_expr(input) {
                    let printed = e.to_string();
                    let again = parse_expr(&printed)
                        .unwrap_or_else(|err| panic!("{input:?} -> {printed:?}: {err}"));
                    assert_eq!(again, e, "{input:?} -> {printed:?}");
                }
            }
            _ => continue,
        }
        n += 1;
    }
    assert!(n > 400, "only {n} cases");
}

/// Inputs found by the fuzzer; each once broke the round trip or panicked.
#[test]
fn fuzz_regressions() {
    for input in [
        "X?=&Qroe-rbe$rme",
        "PsoKucts/\n\n\n\n\n\n/\n\n\n\n",
        "Xl?ife%28%19%19%09",
        "X? gtVUUU\u{5} =\t\t\t",
        "X?$filter=- PT1Hx eq - P1D and - INFx eq -INF",
        "X?$filter=Name Eq 'Milk' OR\t-\t\tme Eq 'Milk' OR\t-\tINFce Lt\tce Lt   55",
    ] {
        round_trip(input);
    }
}

#[test]
fn search_keywords_as_words_round_trip() {
    for input in [
        "X?$search=(N?$duNaN\t\0\n\n\0\0\0\u{10}\0\0\nNOT\n\ni\n\u{6}\n\nNOT\n\n)\nOR ",
        "X?$search=a NOT",
        "X?$search=(a NOT) OR",
        "X?$search=NOT AND",
        "X?$search=a AND OR",
        "X?$search=OR OR OR",
        "X?$search=AND AND AND",
    ] {
        let t = parse_target(input).unwrap();
        let p = t.to_string();
        let again = parse_target(&p).unwrap_or_else(|e| panic!("{input:?} -> {p:?}: {e}"));
        assert_eq!(again, t, "{input:?} -> {p:?}");
    }
}
