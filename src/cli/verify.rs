//! `verify`: checks saved report sets (artefacts, signatures, hash chain) and prints a summary.

use docspace_compliance_operator::integrity::{IntegrityError, VerifyOptions, verify};

use super::VerifyArgs;

/// Runs `verify`: one summary line on stdout, or the first problem as the error.
pub fn main(args: VerifyArgs) -> Result<(), String> {
    let trusted_public_key = match &args.public_key {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("--public-key {}: cannot read it: {e}", path.display()))?,
        ),
        None => None,
    };
    let options = VerifyOptions {
        trusted_public_key,
        require_signature: args.require_signature,
        follow_symlinks: args.follow_symlinks,
    };
    let report = verify(&args.paths, &options).map_err(|e| match (&e, &args.public_key) {
        (IntegrityError::TrustedKey(_), Some(path)) => {
            format!("--public-key {}: {e}", path.display())
        }
        _ => e.to_string(),
    })?;
    println!("{report}");
    if report.signatures > 0 && options.trusted_public_key.is_none() {
        eprintln!(
            "note: signatures were checked against the public keys they carry; pass \
             --public-key with the signer's published key to check who signed"
        );
    }
    Ok(())
}
