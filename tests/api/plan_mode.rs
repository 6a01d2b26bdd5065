//! Statements run inside `with_custom_plans` are planned for their values, and the session's
//! setting is back to the default afterwards, also when the work failed.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use junction::db::plan_mode::with_custom_plans;
use junction::db::schema::connections;

use crate::helpers::TestDatabase;

async fn plan_cache_mode(conn: &AsyncPgConnection) -> String {
    diesel::select(sql::<Text>("current_setting('plan_cache_mode')"))
        .get_result(&mut &*conn)
        .await
        .expect("read plan_cache_mode")
}

/// Runs a lookup diesel keeps prepared, as the list's statements are.
async fn lookup(conn: &AsyncPgConnection, name: &str) -> QueryResult<i64> {
    connections::table
        .filter(connections::name.eq(name.to_owned()))
        .count()
        .get_result(&mut &*conn)
        .await
}

/// How often the lookup's prepared statement ran with a plan made for any value.
async fn generic_plans(conn: &AsyncPgConnection) -> i64 {
    diesel::select(sql::<BigInt>(
        "(SELECT coalesce(sum(generic_plans), 0)::bigint FROM pg_prepared_statements \
         WHERE statement LIKE '%\"connections\".\"name\" = $1%' \
           AND statement NOT LIKE '%pg_prepared_statements%')",
    ))
    .get_result(&mut &*conn)
    .await
    .expect("read pg_prepared_statements")
}

#[actix_web::test]
async fn the_work_sees_custom_plans_and_the_session_gets_its_default_back() {
    let db = TestDatabase::create().await;
    let conn = db.connect().await;
    assert_eq!(plan_cache_mode(&conn).await, "auto");

    let inside = with_custom_plans(&conn, async { Ok(plan_cache_mode(&conn).await) })
        .await
        .expect("work");
    assert_eq!(inside, "force_custom_plan");
    assert_eq!(plan_cache_mode(&conn).await, "auto");

    let failed = with_custom_plans(&conn, async {
        diesel::select(sql::<BigInt>("1 / 0"))
            .get_result::<i64>(&mut &conn)
            .await
    })
    .await;
    assert!(failed.is_err(), "division by zero fails");
    assert_eq!(plan_cache_mode(&conn).await, "auto");
}

#[actix_web::test]
async fn a_kept_statement_is_never_planned_for_any_value_inside() {
    let db = TestDatabase::create().await;
    let conn = db.connect().await;
    // PostgreSQL tries a generic plan from the sixth run of a prepared statement on.
    for run in 0..8 {
        let name = format!("name {run}");
        with_custom_plans(&conn, lookup(&conn, &name))
            .await
            .expect("lookup");
    }
    assert_eq!(generic_plans(&conn).await, 0);

    for run in 0..8 {
        lookup(&conn, &format!("name {run}")).await.expect("lookup");
    }
    assert!(
        generic_plans(&conn).await > 0,
        "outside, the same statement takes a generic plan"
    );
}
