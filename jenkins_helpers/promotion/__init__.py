"""Promotion, the mechanism: change a clone of an environment branch, then propose it
as a merge request.

`target` connects to the deployment project and clones a branch, `sources` says where
app versions come from, `plan` applies and checks them, `publish` pushes the branch
and opens, updates or closes MRs; `naming`, `description` and `trailer` are the MR
conventions (docs/PROMOTION.md), `trust` says which trailers count, `ordering` keeps
versions moving forward, `groups` moves release groups as one. What users and the
webhook ask of it is in `jenkins_helpers.operations`; what every environment runs, in
`jenkins_helpers.status`.

Import the module you need (`from jenkins_helpers.promotion import naming`): this
package's face is empty, so importing one convention loads only what it needs.
"""
