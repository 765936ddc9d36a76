use super::*;

#[test]
fn tokens_are_checked_by_hash_role_expiry_and_revocation() {
    let now = SystemTime::now();
    let mut f = TokenFile::default();
    let (e1, t1) = f
        .add(Role::Viewer, Some("a".into()), None, now)
        .expect("add");
    let (e2, t2) = f
        .add(Role::Operator, None, Some(Duration::from_secs(60)), now)
        .expect("add");
    assert!(t1.starts_with(TOKEN_PREFIX) && t1.len() == TOKEN_PREFIX.len() + 43);
    assert_ne!(t1, t2);
    assert_eq!((e1.id.as_str(), e2.id.as_str()), ("1", "2"));
    assert!(!e1.hash.contains(&t1[6..]));
    assert_eq!(f.check(&t1, now).map(|t| t.role), Ok(Role::Viewer));
    assert_eq!(f.check(&t2, now).map(|t| t.role), Ok(Role::Operator));
    assert_eq!(f.check("ohmpi_nope", now), Err(AuthError::Unknown));
    let later = now + Duration::from_secs(120);
    assert!(matches!(f.check(&t2, later), Err(AuthError::Expired(_))));
    f.revoke("1").expect("revoke");
    assert_eq!(f.check(&t1, now), Err(AuthError::Revoked));
    assert!(f.revoke("9").is_err());
    // Through the file, as written.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sub/tokens.toml");
    f.write(&path).expect("write");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(TokenFile::read(&path).expect("read"), f);
    let tokens = Tokens::new(path.clone());
    assert_eq!(tokens.check(Some(&t2)).map(|h| h.role), Ok(Role::Operator));
    assert_eq!(tokens.check(None), Err(AuthError::Missing));
    f.revoke("2").expect("revoke");
    f.write(&path).expect("write");
    assert_eq!(tokens.check(Some(&t2)), Err(AuthError::Revoked));
}

#[test]
fn roles_and_validities() {
    assert!(Role::Viewer.may_send("get_status"));
    assert!(!Role::Viewer.may_send("run_sequence"));
    assert!(Role::Operator.may_send("run_sequence"));
    assert!(!Role::Operator.may_send("shutdown"));
    assert!(Role::Admin.may_send("set_time"));
    assert_eq!(
        parse_validity("180d"),
        Ok(Duration::from_secs(180 * 86_400))
    );
    assert_eq!(parse_validity("12h"), Ok(Duration::from_secs(43_200)));
    assert!(parse_validity("12").is_err());
    assert!(parse_validity("0d").is_err());
    assert!(parse_validity("d").is_err());
}
