"""Promotion: change a clone of an environment branch, then propose it as a merge request.

Every command that changes an environment, and the webhook, go through this
package: `target` connects to the deployment project and clones the branch,
`sources` says where app versions come from, `plan` applies and checks them,
`publish` pushes the branch and opens, updates or closes MRs, with `naming`,
`description` and the `trailer` as the MR conventions (docs/PROMOTION.md).
"""

from jenkins_helpers.promotion.from_build import BuildPromotion, promote_build
from jenkins_helpers.promotion.model import AppVersion, ImageRef, Outcome, Setting, Status
from jenkins_helpers.promotion.publish import Change, publish
from jenkins_helpers.promotion.target import DeploymentProject, Target, connect
from jenkins_helpers.promotion.trailer import Trailer, TrailerError, parse_trailer

__all__ = [
    "AppVersion",
    "BuildPromotion",
    "Change",
    "DeploymentProject",
    "ImageRef",
    "Outcome",
    "Setting",
    "Status",
    "Target",
    "Trailer",
    "TrailerError",
    "connect",
    "parse_trailer",
    "promote_build",
    "publish",
]
