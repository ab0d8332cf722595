"""What users and the webhook ask for, each one module over the promotion mechanism
(`jenkins_helpers.promotion`): `from_build` (promote), `between_envs` (promote-env),
`edits` (set, rollback), `revert`, `onboard`, `decommission`; and the chain: `cascade`
(what follows a merge), `refresh` (open MRs re-applied after their target moved),
`reconcile` (what missed deliveries left undone)."""
