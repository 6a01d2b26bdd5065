//! `(a, b) > (c, d)`: a row comparison, which diesel's DSL cannot spell. Keyset pages compare
//! the sort's key and its tie-breaker in one range the sort's index answers.

use diesel::expression::{
    AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate,
};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::Bool;

/// `(left.0, left.1) > (right.0, right.1)`, or `<` when not `greater`. Unlike a literal SQL
/// fragment it keeps its statement prepared: a deep page is not parsed and planned anew.
#[derive(Debug, Clone)]
pub(crate) struct RowComparison<A, B, C, D> {
    pub left: (A, B),
    pub right: (C, D),
    pub greater: bool,
}

impl<A, B, C, D> Expression for RowComparison<A, B, C, D> {
    type SqlType = Bool;
}

impl<A, B, C, D> QueryFragment<Pg> for RowComparison<A, B, C, D>
where
    A: QueryFragment<Pg>,
    B: QueryFragment<Pg>,
    C: QueryFragment<Pg>,
    D: QueryFragment<Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql("(");
        self.left.0.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        self.left.1.walk_ast(out.reborrow())?;
        out.push_sql(if self.greater { ") > (" } else { ") < (" });
        self.right.0.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        self.right.1.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

// The operator is in the SQL, not the type: statements are told apart by their text.
impl<A, B, C, D> QueryId for RowComparison<A, B, C, D> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<A, B, C, D, QS> AppearsOnTable<QS> for RowComparison<A, B, C, D>
where
    A: AppearsOnTable<QS>,
    B: AppearsOnTable<QS>,
    C: AppearsOnTable<QS>,
    D: AppearsOnTable<QS>,
{
}

impl<A, B, C, D, QS> SelectableExpression<QS> for RowComparison<A, B, C, D>
where
    A: SelectableExpression<QS>,
    B: SelectableExpression<QS>,
    C: SelectableExpression<QS>,
    D: SelectableExpression<QS>,
{
}

impl<A, B, C, D> ValidGrouping<()> for RowComparison<A, B, C, D> {
    type IsAggregate = is_aggregate::Never;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::connections;
    use diesel::IntoSql as _;
    use diesel::sql_types::Text;

    fn sql_of(expression: &impl QueryFragment<Pg>) -> String {
        let mut builder = <Pg as diesel::backend::Backend>::QueryBuilder::default();
        expression
            .to_sql(&mut builder, &Pg)
            .expect("the comparison builds");
        diesel::query_builder::QueryBuilder::finish(builder)
    }

    #[test]
    fn compares_both_keys_at_once_and_stays_prepared() {
        let after = RowComparison {
            left: (connections::connector, connections::name),
            right: ("hasoffers".into_sql::<Text>(), "acme".into_sql::<Text>()),
            greater: true,
        };
        assert_eq!(
            sql_of(&after),
            r#"("connections"."connector", "connections"."name") > ($1, $2)"#
        );
        let before = RowComparison {
            greater: false,
            ..after
        };
        assert_eq!(
            sql_of(&before),
            r#"("connections"."connector", "connections"."name") < ($1, $2)"#
        );
        assert!(
            before.is_safe_to_cache_prepared(&Pg).expect("answers"),
            "a keyset page keeps its statement prepared"
        );
    }
}
