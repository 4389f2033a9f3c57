//! ACL SETUSER and DELUSER as applied on every replica.

use cairn_protocol::acl::{User, DEFAULT_USER};
use cairn_protocol::errors::RedisError;
use cairn_protocol::Reply;

use super::State;
use crate::error::Result;
use crate::types::AclOp;

pub(super) fn apply(state: &mut State, op: &AclOp) -> Result<Reply> {
    let mut users = state.acl.clone();
    let reply = match op {
        AclOp::SetUser { name, rules } => {
            let mut user = users.get(name).cloned().unwrap_or_else(|| {
                if name == DEFAULT_USER {
                    User::default_user()
                } else {
                    User::new()
                }
            });
            if let Err(e) = user.apply_rules(rules) {
                return Ok(Reply::error(e));
            }
            users.insert(name.clone(), user);
            Reply::ok()
        }
        AclOp::DelUser { names } => {
            if names.iter().any(|n| n == DEFAULT_USER) {
                return Ok(Reply::from(RedisError::DefaultUserUndeletable));
            }
            let deleted = names.iter().filter(|n| users.remove(*n).is_some()).count();
            Reply::Integer(deleted as i64)
        }
    };
    state.acl = users;
    Ok(reply)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::keyspace::State;

    fn set(t: &mut State, name: &str, rules: &str) -> Reply {
        let rules = rules
            .split(' ')
            .map(|r| Bytes::from(r.to_string()))
            .collect();
        apply(
            t,
            &AclOp::SetUser {
                name: name.into(),
                rules,
            },
        )
        .unwrap()
    }

    #[test]
    fn users_are_created_changed_and_deleted_all_or_nothing() {
        let mut t = State::default();
        assert_eq!(set(&mut t, "alice", "on nopass +get ~*"), Reply::ok());
        assert!(set(&mut t, "alice", "off +nosuch").is_error());
        assert!(t.acl["alice"].enabled, "a failed SETUSER changes nothing");
        assert_eq!(set(&mut t, "default", "-flushall"), Reply::ok());
        assert_eq!(
            t.acl["default"].describe(),
            "on nopass ~* &* +@all -flushall"
        );
        let del = |t: &mut State, names: &[&str]| {
            let names = names.iter().map(|n| n.to_string()).collect();
            apply(t, &AclOp::DelUser { names }).unwrap()
        };
        assert!(del(&mut t, &["alice", "default"]).is_error());
        assert_eq!(del(&mut t, &["alice", "bob"]), Reply::Integer(1));
        assert!(!t.acl.contains_key("alice"));
    }
}
